// Helpers for the editor (hover and completion on template names), pure so
// the extension only maps them to vscode types.

import { renderPrompt } from '../templates';
import type { ChatMessage, CustomTemplateSpec } from '../types';
import { resolvePolicyTemplate, shippedTemplates, specialTokensOf } from './knowledge';
import { loadTemplate } from '../templates';
import { SAMPLE_RESPONSE, SAMPLE_SYSTEM, SAMPLE_USER } from './rules/prompt-prefix';

export interface TemplateSampleSegment {
  text: string;
  kind: 'special' | 'text' | 'response' | 'endOfTurn';
}

export interface TemplateSample {
  template: string;
  variant?: string;
  text: string;
  responseStart: number;
  responseEnd: number;
  scoredEnd: number;
  /** The text cut into special tokens, plain text, the response and the scored end of turn. */
  segments: TemplateSampleSegment[];
  notes: string[];
  description: string;
}

/** The sample conversation (system + user + assistant response) rendered flat by a template. Throws for an unknown template. */
export function renderTemplateSample(name: string, model = '', customTemplates: Record<string, CustomTemplateSpec> = {}): TemplateSample {
  const res = resolvePolicyTemplate({ template: name, model }, customTemplates);
  if (!res.ok) throw new Error(res.error);
  const spec = res.spec;
  const messages: ChatMessage[] = [
    ...(spec.systemHandling === 'unsupported' ? [] : [{ role: 'system' as const, content: SAMPLE_SYSTEM }]),
    { role: 'user', content: SAMPLE_USER },
  ];
  const r = renderPrompt(spec, messages, SAMPLE_RESPONSE, { scoreEndOfTurn: true });
  const specials = specialTokensOf(spec).concat([spec.bos, spec.eos, spec.endOfTurn].filter(Boolean)).sort((a, b) => b.length - a.length);
  const segments: TemplateSampleSegment[] = [];
  const push = (text: string, kind: TemplateSampleSegment['kind']) => {
    if (!text) return;
    const last = segments[segments.length - 1];
    if (last && last.kind === kind && kind !== 'special') last.text += text;
    else segments.push({ text, kind });
  };
  const cut = (text: string) => {
    let i = 0;
    while (i < text.length) {
      const hit = specials.find((s) => text.startsWith(s, i));
      if (hit) {
        push(hit, 'special');
        i += hit.length;
      } else push(text[i++], 'text');
    }
  };
  cut(r.text.slice(0, r.responseStart));
  push(r.text.slice(r.responseStart, r.responseEnd), 'response');
  push(r.text.slice(r.responseEnd, r.scoredEnd), 'endOfTurn');
  return {
    template: name,
    ...(spec.variant ? { variant: spec.variant } : {}),
    text: r.text,
    responseStart: r.responseStart,
    responseEnd: r.responseEnd,
    scoredEnd: r.scoredEnd,
    segments,
    notes: spec.notes ?? [],
    description: spec.description ?? '',
  };
}

const visible = (s: string) => s.replace(/\n/g, '↵\n').replace(/\t/g, '⇥');

/**
 * Markdown for a hover on a template name: the flat prompt of a sample
 * conversation with special tokens marked ⟦…⟧, newlines shown as ↵, the scored
 * response marked «…», then the family's notes. Unknown names get a short line.
 */
export function templateHover(name: string, model?: string, customTemplates: Record<string, CustomTemplateSpec> = {}): string {
  let s: TemplateSample;
  try {
    s = renderTemplateSample(name, model, customTemplates);
  } catch (e) {
    return `**${name}**: ${(e as Error).message}. Known templates: ${[...shippedTemplates(), ...Object.keys(customTemplates)].join(', ')}.`;
  }
  const flat = s.segments
    .map((g) => (g.kind === 'special' ? `⟦${g.text}⟧` : g.kind === 'response' ? `«${visible(g.text)}»` : g.kind === 'endOfTurn' ? `«⟦${g.text}⟧»` : visible(g.text)))
    .join('');
  const lines = [
    `**${name}**${s.variant ? ` (variant ${s.variant}${model ? ` for ${model}` : ''})` : ''}: ${s.description}`,
    '',
    `Flat prompt of a system + user conversation with the response «…» (⟦…⟧ special token, ↵ newline):`,
    '',
    '```text',
    flat.replace(/```/g, '`\u200b``'),
    '```',
    '',
    `Scored span: \`${JSON.stringify(s.text.slice(s.responseStart, s.scoredEnd))}\` (with scoreEndOfTurn).`,
  ];
  if (s.notes.length) lines.push('', ...s.notes.map((n) => `- ${n}`));
  return lines.join('\n');
}

export interface TemplateCompletion {
  name: string;
  description: string;
  families: string[];
  custom: boolean;
}

/** Template names to complete in a config: the shipped ones, then those defined under "templates". */
export function templateCompletions(customTemplates: Record<string, CustomTemplateSpec> = {}): TemplateCompletion[] {
  const shipped = shippedTemplates().map((n) => {
    const t = loadTemplate(n);
    return { name: n, description: t.description, families: t.families, custom: false };
  });
  const custom = Object.entries(customTemplates).map(([n, c]) => ({
    name: n,
    description: c?.description ?? (c?.extends ? `custom template extending ${c.extends}` : 'custom template'),
    families: c?.families ?? [],
    custom: true,
  }));
  return [...shipped, ...custom];
}
