// The scoring run's entry: the pipeline itself lives in src/core/scoring/, one stage a module.
export { runScoring } from './scoring/pipeline';
export { policyGroups, type PolicyGroup } from './scoring/groups';
export { conversationFor } from './scoring/render';
export { ANSWER_CHECKS_VERSION } from './span';
export type { LoggedComparison, LoggedIdentical, NoiseFloor, PolicySummary, ProbeRequest, ScoreProgress, ScoreRunOptions, ScoreRunSummary } from './scoring/types';
