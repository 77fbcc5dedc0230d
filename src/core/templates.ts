// Completions templates as data (templates/<name>.json) and the one renderer
// that turns a conversation + response into the flat text a model is scored on.
// Pure Node: the CLI, the worker and the extension all load this file.

import * as fs from 'fs';
import * as path from 'path';
import { formatRenderDate } from './render-date';
import type { ChatMessage, RenderedPrompt, TemplateSpec } from './types';

/** Options of a render besides the conversation. */
export interface RenderOptions {
  /**
   * The calendar date (YYYY-MM-DD) the prompt was rendered on, for templates that write the date of
   * rendering (spec.renderDate, e.g. Llama 3.2); their fallback date when absent. Others ignore it.
   * renderDateFor (render-date.ts) gives it for a policy and a record.
   */
  date?: string;
}

export type ResolvedTemplate = TemplateSpec & { variant?: string };

let cachedDir: string | undefined;
const cache = new Map<string, TemplateSpec>();

/** The package's templates/ folder: the one beside the nearest package.json above this file. */
export function templatesDir(): string {
  if (cachedDir) return cachedDir;
  // Compiled to out/src/core/, sources in src/core/: walking up works from both.
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'templates'))) {
      cachedDir = path.join(dir, 'templates');
      return cachedDir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the templates/ folder above ${__dirname}`);
    dir = parent;
  }
}

export function listTemplates(): string[] {
  return fs
    .readdirSync(templatesDir())
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

export function loadTemplate(name: string): TemplateSpec {
  const hit = cache.get(name);
  if (hit) return hit;
  const known = listTemplates();
  if (!known.includes(name)) {
    throw new Error(`unknown template "${name}"; known templates: ${known.join(', ')}`);
  }
  const file = path.join(templatesDir(), `${name}.json`);
  const spec = JSON.parse(fs.readFileSync(file, 'utf8')) as TemplateSpec;
  if (spec.name !== name) throw new Error(`${file}: name is "${spec.name}", expected "${name}"`);
  cache.set(name, spec);
  return spec;
}

/**
 * Applies the variant named explicitly, else the first whose regex matches the
 * model name. Variant notes are added to the family's notes, not substituted:
 * the family's traps still hold for every version.
 */
export function resolveTemplate(spec: TemplateSpec, model: string, variant?: string): ResolvedTemplate {
  const variants = spec.variants ?? [];
  let chosen;
  if (variant) {
    chosen = variants.find((v) => v.name === variant);
    if (!chosen) {
      const names = variants.map((v) => v.name);
      throw new Error(
        `template "${spec.name}" has no variant "${variant}"` +
          (names.length ? `; its variants: ${names.join(', ')}` : '; it has no variants'),
      );
    }
  } else {
    chosen = variants.find((v) => new RegExp(v.match, 'i').test(model));
  }
  if (!chosen) return { ...spec };
  const { notes, ...overrides } = chosen.overrides;
  return {
    ...spec,
    ...overrides,
    notes: [...(spec.notes ?? []), ...(notes ?? [])],
    variant: chosen.name,
  };
}

// Jinja's `trim` is Python's str.strip(): Python whitespace, which is not JS's
// \s (JS also strips U+FEFF, Python also strips U+001C..U+001F and U+0085).
const PY_WS = '[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const PY_STRIP = new RegExp(`^${PY_WS}+|${PY_WS}+$`, 'g');
const pyStrip = (s: string) => s.replace(PY_STRIP, '');

type TurnRole = 'system' | 'user' | 'assistant';

function trims(spec: TemplateSpec, role: TurnRole): boolean {
  const t = spec.trimContent;
  return t === true || (Array.isArray(t) && t.includes(role));
}

/** Earlier assistant content as a reasoning template writes it: the text after the last marker, leading characters stripped. */
function stripReasoning(rule: NonNullable<TemplateSpec['stripReasoningFromHistory']>, content: string): string {
  const at = content.lastIndexOf(rule.marker);
  if (!rule.marker || at < 0) return content;
  let rest = content.slice(at + rule.marker.length);
  const strip = rule.stripLeading ?? '';
  let i = 0;
  while (i < rest.length && strip.includes(rest[i])) i++;
  rest = rest.slice(i);
  return rest;
}

/** The system preamble with "{date}" filled in where the template writes the date of rendering. */
function preamble(spec: TemplateSpec, date: string | undefined): string {
  const text = spec.systemPreamble ?? '';
  const rd = spec.renderDate;
  if (!rd || !text.includes('{date}')) return text;
  const written = date === undefined ? rd.fallback : formatRenderDate(date, rd.format);
  return text.split('{date}').join(written);
}

/** The prompt text up to and including the generation prefix; throws for what the template cannot render. */
function renderHistory(spec: ResolvedTemplate, messages: ChatMessage[], opts: RenderOptions = {}): string {
  const label = spec.variant ? `${spec.name} (${spec.variant})` : spec.name;
  const fail = (why: string): never => {
    throw new Error(`template ${label}: ${why}`);
  };

  let system: string | undefined;
  let rest = messages;
  if (messages.length > 0 && messages[0].role === 'system') {
    system = messages[0].content;
    rest = messages.slice(1);
  }
  rest.forEach((m, i) => {
    if (m.role === 'system') fail(`a system message is only supported as the first message (found one at position ${i + messages.length - rest.length})`);
    if (m.role === 'tool') fail('tool messages are not supported');
    const expected = i % 2 === 0 ? 'user' : 'assistant';
    if (m.role !== expected) fail(`roles must alternate user/assistant after the optional system message; message ${i + messages.length - rest.length} is "${m.role}", expected "${expected}"`);
  });
  if (rest.length === 0) fail('the conversation needs at least one user message before the response');
  if (rest[rest.length - 1].role !== 'user') fail('the last message before the response must be a user message');
  // A format without turn markers (raw) cannot keep turns apart: the flat prompt must come as one message.
  const t = spec.turns;
  const unmarked = [t.user, t.assistant].every((x) => x.prefix === '' && x.suffix === '');
  if (unmarked && rest.length !== 1) fail(`a template without turn markers takes the flat prompt as one user message; got ${rest.length} messages`);

  if (spec.systemHandling === 'drop') system = undefined;
  if (system === undefined && spec.defaultSystemPrompt != null) system = spec.defaultSystemPrompt;
  if (system === '' && spec.dropEmptySystem) system = undefined;
  const rawSystem = system;
  if (system !== undefined && trims(spec, 'system')) system = pyStrip(system);

  const reasoning = spec.stripReasoningFromHistory;
  const raw = rest.map((m) => (reasoning && m.role === 'assistant' ? stripReasoning(reasoning, m.content) : m.content));
  const contents = rest.map((m, i) => (trims(spec, m.role as TurnRole) ? pyStrip(raw[i]) : raw[i]));
  let out = spec.bos;

  if (system !== undefined) {
    const sys = spec.turns.system;
    switch (spec.systemHandling) {
      case 'own-turn':
        out += sys.prefix + preamble(spec, opts.date) + system + sys.suffix;
        break;
      case 'merge-into-first-user':
      case 'merge-into-last-user': {
        const i = spec.systemHandling === 'merge-into-first-user' ? 0 : contents.length - 1;
        const sep = spec.systemMergeSeparator ?? '';
        if (spec.trimAfterSystemMerge) {
          // The template strips the merged text as a whole (Llama 2): the system block keeps its own whitespace.
          const merged = sys.prefix + rawSystem + sys.suffix + sep + raw[i];
          contents[i] = trims(spec, 'user') ? pyStrip(merged) : merged;
        } else {
          contents[i] = sys.prefix + system + sys.suffix + sep + contents[i];
        }
        break;
      }
      case 'unsupported':
        fail('this format has no system prompt; remove the system message or choose another template');
    }
  }

  rest.forEach((m, i) => {
    const turn = spec.turns[m.role as TurnRole];
    out += turn.prefix + contents[i] + turn.suffix;
  });
  return out + spec.generationPrefix;
}

/**
 * The exact text a model is teacher-forced on: prompt + response (+ endOfTurn
 * when scored, and nothing after it), with the response span in UTF-16 indices.
 * The response itself is never trimmed or altered: it is what is scored.
 */
export function renderPrompt(
  spec: ResolvedTemplate,
  messages: ChatMessage[],
  response: string,
  opts: RenderOptions & { scoreEndOfTurn: boolean },
): RenderedPrompt {
  const prompt = renderHistory(spec, messages, opts);
  const responseStart = prompt.length;
  const responseEnd = responseStart + response.length;
  const eot = opts.scoreEndOfTurn ? spec.endOfTurn : '';
  return {
    text: prompt + response + eot,
    responseStart,
    responseEnd,
    scoredEnd: responseEnd + eot.length,
    template: spec.name,
    ...(spec.variant ? { variant: spec.variant } : {}),
  };
}

/** The prompt without a response: always a prefix of renderPrompt's text for the same messages. */
export function renderPromptOnly(spec: ResolvedTemplate, messages: ChatMessage[], opts: RenderOptions = {}): string {
  return renderHistory(spec, messages, opts);
}
