// What a `cje` command declares (name, summary, positionals, options, run) and
// the one argument parser and usage writer they all share, so that a command's
// --help, the global usage and the errors for bad arguments come from the same
// table and cannot drift apart. Adding a command is one entry in COMMANDS
// (main.ts) and a module that exports its Command.

import { parseArgs } from 'node:util';
import { closest } from './did-you-mean';

export type Io = { out: NodeJS.WritableStream & { isTTY?: boolean }; err: NodeJS.WritableStream & { isTTY?: boolean } };

/** Bad usage: main prints `cje CMD: message` (one line) and exits 2. */
export class UsageError extends Error {}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** How the value is written in the usage, e.g. CONFIG; string options only. */
  value?: string;
  /** The command cannot run without it. Options are optional unless they say so. */
  required?: boolean;
  /** Set by another program (the worker manager), not meant for people; still listed. */
  internal?: boolean;
  /** One line (or two) for the command's --help. */
  summary: string;
}

export interface PositionalSpec {
  /** How it is written in the usage, e.g. LOG. */
  name: string;
  min: number;
  max: number;
  summary: string;
}

type ValueOf<S extends OptionSpec> = S['type'] extends 'string' ? (S['multiple'] extends true ? string[] : string) : boolean;
export type Values<O extends Record<string, OptionSpec>> = { [K in keyof O]?: ValueOf<O[K]> };

export interface Command<O extends Record<string, OptionSpec> = Record<string, OptionSpec>> {
  name: string;
  /** One line for the global usage. */
  summary: string;
  /** Paragraphs for the command's own --help (after the usage line). */
  description?: string;
  positionals: PositionalSpec | null;
  options: O;
  run(args: { values: Values<O>; positionals: string[] }, io: Io): Promise<number>;
}

/** Declares a command with its option values typed from its option table. */
export function defineCommand<const O extends Record<string, OptionSpec>>(c: Command<O>): Command<O> {
  return c;
}

export const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', summary: 'print this help and exit' };

const WIDTH = 100;

function optionWord(name: string, o: OptionSpec): string {
  return o.type === 'string' ? `--${name} ${o.value ?? 'VALUE'}${o.multiple ? ' ...' : ''}` : `--${name}`;
}

function positionalWord(p: PositionalSpec): string {
  const many = p.max > 1 ? ' ...' : '';
  return p.min === 0 ? `[${p.name}${many}]` : `${p.name}${many}`;
}

/** `cje score LOG [--config CONFIG] ...`, wrapped under its first word at WIDTH columns. */
export function synopsis(c: Command, indent = ''): string {
  const words = [`cje ${c.name}`];
  if (c.positionals && c.positionals.max > 0) words.push(positionalWord(c.positionals));
  for (const [name, o] of Object.entries(c.options)) words.push(o.required ? optionWord(name, o) : `[${optionWord(name, o)}]`);
  const hang = indent + ' '.repeat(words[0].length + 1);
  const lines: string[] = [];
  let line = indent + words[0];
  for (const w of words.slice(1)) {
    if (line.length + 1 + w.length > WIDTH && line.trim() !== words[0]) {
      lines.push(line);
      line = hang + w;
    } else line += ' ' + w;
  }
  lines.push(line);
  return lines.join('\n');
}

export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

/** The command's own usage: synopsis, description, then each argument and option explained. */
export function commandHelp(c: Command): string {
  const rows: [string, string][] = [];
  if (c.positionals && c.positionals.max > 0) rows.push([positionalWord(c.positionals), c.positionals.summary]);
  const all: [string, OptionSpec][] = [...Object.entries(c.options), ['help', HELP_OPTION]];
  for (const [name, o] of all) {
    const flag = `${o.short ? `-${o.short}, ` : '    '}${optionWord(name, o)}`;
    rows.push([flag, `${o.required ? '(required) ' : ''}${o.internal ? '(internal) ' : ''}${o.summary}`]);
  }
  const w = Math.min(30, Math.max(...rows.map(([l]) => l.length)));
  const body = rows.map(([l, r]) => {
    const text = r.split('\n').flatMap((t) => wrap(t, WIDTH - w - 4));
    const first = l.length > w ? `  ${l}\n  ${' '.repeat(w)}  ${text[0]}` : `  ${l.padEnd(w)}  ${text[0]}`;
    return [first, ...text.slice(1).map((t) => `  ${' '.repeat(w)}  ${t}`)].join('\n');
  });
  let s = `Usage:\n${synopsis(c, '  ')}\n\n`;
  if (c.description) s += `${c.description.trim()}\n\n`;
  s += `${body.join('\n')}\n\nWhat is in [ ] is optional.\n`;
  return s;
}

export type Parsed<O extends Record<string, OptionSpec>> = { help: true } | { help: false; values: Values<O>; positionals: string[] };

/**
 * Parses a command's arguments against its option table. Node's parseArgs
 * (strict: false) splits them into tokens; the checks are ours, so every
 * error names the option and says what to write instead.
 */
export function parseCommandArgs<O extends Record<string, OptionSpec>>(c: Command<O>, argv: string[]): Parsed<O> {
  const specs: Record<string, OptionSpec> = { ...c.options, help: HELP_OPTION };
  const nodeOptions = Object.fromEntries(
    Object.entries(specs).map(([name, o]) => [name, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }]),
  );
  const { tokens } = parseArgs({ args: argv, options: nodeOptions, strict: false, allowPositionals: true, tokens: true });
  if (tokens.some((t) => t.kind === 'option' && t.name === 'help')) return { help: true };
  const values: Record<string, string | boolean | string[]> = {};
  const positionals: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'positional') positionals.push(t.value);
    if (t.kind !== 'option') continue;
    const o = specs[t.name];
    if (!o) {
      if (t.rawName.startsWith('--')) {
        const guess = closest(t.rawName.slice(2), Object.keys(c.options));
        throw new UsageError(`unknown option ${t.rawName}${guess ? `; did you mean --${guess}?` : ` (cje ${c.name} --help lists its options)`}`);
      }
      const long = Object.entries(c.options).find(([, s]) => s.short?.toLowerCase() === t.rawName.slice(1).toLowerCase());
      throw new UsageError(`unknown option ${t.rawName}${long ? `; did you mean -${long[1].short} (--${long[0]})?` : ` (cje ${c.name} --help lists its options)`}`);
    }
    const word = optionWord(t.name, o);
    if (o.type === 'boolean') {
      if (t.value !== undefined) throw new UsageError(`--${t.name} takes no value (got ${t.rawName}=${t.value})`);
      values[t.name] = true;
      continue;
    }
    if (t.value === undefined) throw new UsageError(`${t.rawName} needs a value: ${word}`);
    // A value that looks like an option is far more often a forgotten value than a real one;
    // negative numbers are let through, and --x=-y says it plainly.
    if (!t.inlineValue && t.value.startsWith('-') && !/^-\d/.test(t.value)) {
      throw new UsageError(`${t.rawName} needs a value, not the option ${t.value}: ${word} (a value that starts with '-' is written --${t.name}=${t.value})`);
    }
    if (o.multiple) ((values[t.name] ??= []) as string[]).push(t.value);
    else values[t.name] = t.value;
  }
  for (const [name, o] of Object.entries(c.options)) {
    if (o.required && values[name] === undefined) throw new UsageError(`needs ${optionWord(name, o)}: ${o.summary.split('\n')[0]}`);
  }
  const p = c.positionals;
  const max = p?.max ?? 0;
  if (positionals.length > max) {
    throw new UsageError(max === 0 ? `takes no ${p ? p.name : 'positional argument'} (got ${positionals.join(' ')})` : `takes ${max === 1 ? 'exactly one' : `at most ${max}`} ${p!.name} (got ${positionals.length}: ${positionals.join(' ')})`);
  }
  if (p && positionals.length < p.min) {
    throw new UsageError(`takes ${p.min === p.max ? (p.min === 1 ? 'exactly one' : `exactly ${p.min}`) : p.min === 1 ? 'at least one' : `at least ${p.min}`} ${p.name}: ${p.summary.split('\n')[0]} (got none)`);
  }
  return { help: false, values: values as Values<O>, positionals };
}

/** Parses and runs a command: its help on -h/--help (exit 0), UsageError for bad arguments. */
export async function runCommand<O extends Record<string, OptionSpec>>(c: Command<O>, argv: string[], io: Io): Promise<number> {
  const parsed = parseCommandArgs(c, argv);
  if (parsed.help) {
    io.out.write(commandHelp(c as unknown as Command));
    return 0;
  }
  return c.run({ values: parsed.values, positionals: parsed.positionals }, io);
}
