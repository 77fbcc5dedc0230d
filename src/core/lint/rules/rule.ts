import type { LintContext } from '../context';
import type { LintSeverity } from '../types';

export interface LintRule {
  /** What the rule checks, in a few words (also its file name). */
  name: string;
  /** The codes it reports, with their usual severity and a one-line summary. */
  codes: Record<string, { severity: LintSeverity | 'warning|info'; summary: string }>;
  check(ctx: LintContext): void;
}
