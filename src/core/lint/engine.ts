// The lint engine: parse once with positions, run every rule, sort, count.
// Pure: no 'vscode', no I/O except reading tokenizer.json files (cached).

import { applyEdits, parseTree, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { nodeValue } from '../json-text';
import { createContext, rangeLocation } from './context';
import { configSchemaRule } from './rules/config-schema';
import { customTemplateFormatRule } from './rules/custom-template-format';
import { doubleBosRule } from './rules/double-bos';
import { endOfTurnConsistencyRule } from './rules/end-of-turn-consistency';
import { fieldsInLogRule } from './rules/fields-in-log';
import { identicalFingerprintsRule } from './rules/identical-fingerprints';
import { localModelFolderRule } from './rules/local-model-folder';
import { keyTrustRule } from './rules/key-trust';
import { promptPrefixRule } from './rules/prompt-prefix';
import { providerLacksEchoRule } from './rules/provider-lacks-echo';
import { renderDateRule } from './rules/render-date';
import type { LintRule } from './rules/rule';
import { specialTokensSingleRule } from './rules/special-tokens-single';
import { templateFamilyMismatchRule } from './rules/template-family-mismatch';
import { unknownTemplateRule } from './rules/unknown-template';
import type { LintDiagnostic, LintFix, LintOptions, LintResult, LintSeverity } from './types';

export const LINT_RULES: readonly LintRule[] = [
  configSchemaRule,
  unknownTemplateRule,
  templateFamilyMismatchRule,
  renderDateRule,
  doubleBosRule,
  customTemplateFormatRule,
  promptPrefixRule,
  endOfTurnConsistencyRule,
  providerLacksEchoRule,
  localModelFolderRule,
  keyTrustRule,
  identicalFingerprintsRule,
  specialTokensSingleRule,
  fieldsInLogRule,
];

/** Every code with its severity and summary, for docs and the extension. */
export const LINT_CODES: Readonly<Record<string, { severity: string; summary: string; rule: string }>> = Object.fromEntries(
  LINT_RULES.flatMap((r) => Object.entries(r.codes).map(([code, c]) => [code, { ...c, rule: r.name }])).sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
);


function summarize(file: string, diagnostics: LintDiagnostic[]): LintResult {
  const count = (s: LintSeverity) => diagnostics.filter((d) => d.severity === s).length;
  return { file, diagnostics, errors: count('error'), warnings: count('warning'), infos: count('info') };
}

/** Lints the text of a cje config. Never throws on bad input; a rule that crashes is reported as CJE000. */
export function lintConfig(text: string, file = 'cje.config.json', opts: LintOptions = {}): LintResult {
  text = text.replace(/^\uFEFF/, '');
  const parseErrors: ParseError[] = [];
  const root = parseTree(text, parseErrors, { allowTrailingComma: true, disallowComments: false });
  if (parseErrors.length || !root) {
    const diags: LintDiagnostic[] = parseErrors.map((e) => ({
      code: 'CJE001',
      severity: 'error',
      message: `JSON syntax: ${printParseErrorCode(e.error)}; fix the JSON first (the other checks need it).`,
      path: '',
      ...rangeLocation(text, e.offset, e.length),
    }));
    if (!diags.length) diags.push({ code: 'CJE001', severity: 'error', message: 'the file is empty: a config needs "behavior" and "policies".', path: '', ...rangeLocation(text, 0, 0) });
    return summarize(file, diags);
  }
  const value = nodeValue(root);
  const out: LintDiagnostic[] = [];
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    configSchemaRule.check(createContext(text, file, root, {}, opts, out));
    return summarize(file, out);
  }
  const ctx = createContext(text, file, root, value as Record<string, unknown>, opts, out);
  for (const rule of LINT_RULES) {
    if (opts.only && !Object.keys(rule.codes).some((c) => opts.only!.includes(c))) continue;
    try {
      rule.check(ctx);
    } catch (e) {
      out.push({ code: 'CJE000', severity: 'error', message: `internal error in lint rule ${rule.name}: ${(e as Error).message}`, path: '', ...rangeLocation(text, 0, 0) });
    }
  }
  const kept = opts.only ? out.filter((d) => opts.only!.includes(d.code)) : out;
  // Each problem once: same code on the same range with the same message.
  const seen = new Set<string>();
  const unique = kept.filter((d) => {
    const k = `${d.code}|${d.offset}|${d.length}|${d.message}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
  unique.sort((a, b) => a.offset - b.offset || a.code.localeCompare(b.code));
  return summarize(file, unique);
}

/** Applies one fix's edits to the text they were computed on. */
export function applyFix(text: string, fix: LintFix): string {
  return applyEdits(text, fix.edits);
}

/**
 * Applies the first fix of each fixable diagnostic (of at least `minSeverity`),
 * one at a time and re-linting in between so that no edit is applied to text
 * it was not computed on. Returns the new text and the titles applied.
 */
export function fixAll(text: string, file = 'cje.config.json', opts: LintOptions & { minSeverity?: LintSeverity } = {}): { text: string; applied: string[] } {
  const rank: Record<LintSeverity, number> = { info: 0, warning: 1, error: 2 };
  const min = rank[opts.minSeverity ?? 'warning'];
  const applied: string[] = [];
  const tried = new Set<string>();
  for (let round = 0; round < 100; round++) {
    const next = lintConfig(text, file, opts).diagnostics.find(
      (d) => d.fixes?.length && rank[d.severity] >= min && !tried.has(`${d.code}|${d.path}|${d.fixes[0].title}`),
    );
    if (!next) break;
    tried.add(`${next.code}|${next.path}|${next.fixes![0].title}`);
    const changed = applyFix(text, next.fixes![0]);
    if (changed === text) continue;
    text = changed;
    applied.push(`${next.code} ${next.path}: ${next.fixes![0].title}`);
  }
  return { text, applied };
}
