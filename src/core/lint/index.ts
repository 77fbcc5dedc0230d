// Public API of the template lint engine (pure: no 'vscode').
export { applyFix, fixAll, lintConfig, LINT_CODES, LINT_RULES } from './engine';
export { renderTemplateSample, templateCompletions, templateHover } from './editor';
export type { TemplateCompletion, TemplateSample, TemplateSampleSegment } from './editor';
export { modelFamily, resolvePolicyTemplate, buildCustomTemplate, MODEL_FAMILIES } from './knowledge';
export type { FamilyEntry, TemplateResolution } from './knowledge';
export type { LintDiagnostic, LintEdit, LintFix, LintOptions, LintResult, LintSeverity } from './types';
