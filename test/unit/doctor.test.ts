import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../../src/cli/main';
import type { EndpointProfile } from '../../src/core/endpoint-profile';
import type { CjeConfig, PolicyConfig } from '../../src/core/types';
import { runDoctor } from '../../src/doctor';
import { startFireworks, startLlamaCpp, startNoisy, startTgi, startTogether, startVllm, type EmulationServer } from '../support/emulations';

const started: EmulationServer[] = [];
async function up(s: Promise<EmulationServer>): Promise<EmulationServer> {
  const x = await s;
  started.push(x);
  return x;
}

function config(url: string, policies: Record<string, Partial<PolicyConfig>> = { base: {} }): CjeConfig {
  const out: CjeConfig = { behavior: Object.keys(policies)[0], policies: {} };
  for (const [name, p] of Object.entries(policies)) out.policies[name] = { provider: 'openai-compatible', baseURL: url, model: 'toy-model', template: 'llama3', ...p };
  return out;
}

async function doctor(cfg: CjeConfig): Promise<EndpointProfile> {
  const r = await runDoctor(cfg);
  assert.equal(r.endpoints.length, 1);
  return r.endpoints[0];
}

describe('cje doctor against loopback emulations of real servers', function () {
  this.timeout(60000);
  afterEach(async () => {
    while (started.length) await started.pop()!.close();
  });

  it('vLLM: echo with max_tokens 0, code-point offsets counting the BOS text, BOS added even after the template wrote one', async () => {
    const s = await up(startVllm({ chat: 'llama3' }));
    const p = await doctor(config(s.url));
    assert.deepEqual(p.blockers, []);
    assert.deepEqual(
      { ...p.probes },
      {
        echo: true,
        maxTokens: 0,
        promptLogprobs: true,
        firstTokenNull: true,
        offsetUnit: 'codepoint',
        listPrompts: true,
        tokenIdPrompts: true,
        topLogprobsLimit: 20,
        clampSentinel: false,
        addsBos: true,
        doubleBos: true,
        deterministic: true,
        noiseFloor: 0,
        noiseFloorToken: 0,
        batchInvariant: true,
        prefixCacheConsistent: true,
        templateSanity: true,
      },
    );
    assert.ok(p.warnings.some((w) => /policy base: the template writes <\|begin_of_text\|> and the server adds another/.test(w)), p.warnings.join('\n'));
    assert.ok(p.sanity!.base! > -1);
  });

  it('vLLM with a stale prefix cache and batch-dependent numbers: both named', async () => {
    const s = await up(startVllm({ chat: 'llama3', stalePrefixCache: true, batchVariant: 0.2 }));
    const p = await doctor(config(s.url));
    assert.equal(p.probes.prefixCacheConsistent, false);
    assert.equal(p.probes.batchInvariant, false);
    assert.equal(p.probes.deterministic, true);
    assert.ok(p.warnings.some((w) => /prefix cache/.test(w)));
    assert.ok(p.warnings.some((w) => /in a batch/.test(w)));
  });

  it('a template the model was not tuned with fails the 2+2 sanity check, and says which policy', async () => {
    const s = await up(startVllm({ chat: 'chatml' }));
    const p = await doctor(config(s.url, { base: { template: 'chatml' }, wrong: { template: 'llama3' } }));
    assert.equal(p.probes.templateSanity, false);
    assert.ok(p.sanity!.base! > -1, `chatml ${p.sanity!.base}`);
    assert.ok(p.sanity!.wrong! < -2, `llama3 ${p.sanity!.wrong}`);
    assert.ok(p.warnings.some((w) => /^policy wrong \(template llama3\): "4" after "What is 2\+2\?" has log-prob/.test(w)), p.warnings.join('\n'));
    assert.ok(!p.warnings.some((w) => /^policy base /.test(w)));
  });

  it('Fireworks: auto-BOS (double with a BOS-writing template), top_logprobs limit 5, token-id prompts', async () => {
    const s = await up(startFireworks({ chat: 'llama3' }));
    const p = await doctor(config(s.url));
    assert.deepEqual(p.blockers, []);
    assert.equal(p.probes.addsBos, true);
    assert.equal(p.probes.doubleBos, true);
    assert.equal(p.probes.topLogprobsLimit, 5);
    assert.equal(p.probes.tokenIdPrompts, true);
    assert.equal(p.probes.offsetUnit, 'codepoint');
    assert.match(p.reasons.addsBos!, /prompt token ids begin/);
  });

  it('Together: prompt log-probs in the top-level prompt field, no text_offset, no token-id prompts', async () => {
    const s = await up(startTogether({ chat: 'chatml' }));
    const p = await doctor(config(s.url, { base: { template: 'chatml' } }));
    assert.deepEqual(p.blockers, []);
    assert.equal(p.probes.promptLogprobs, true);
    assert.equal(p.probes.offsetUnit, 'absent');
    assert.equal(p.probes.tokenIdPrompts, false);
    assert.equal(p.probes.templateSanity, true);
    assert.match(p.reasons.listPrompts!, /top-level prompt field without indices/);
  });

  it('TGI: max_tokens 0 refused, max_tokens 1 without prompt log-probs: a blocker that names the flag', async () => {
    const s = await up(startTgi({}));
    const p = await doctor(config(s.url));
    assert.equal(p.probes.maxTokens, 1);
    assert.equal(p.probes.promptLogprobs, false);
    assert.match(p.reasons.maxTokens!, /max_new_tokens/);
    assert.equal(p.blockers.length, 1);
    assert.match(p.blockers[0], /cannot teacher-force.*--enable-prefill-logprobs/);
  });

  it('TGI as provider "tgi" (its /generate): with --enable-prefill-logprobs it can teacher-force, without it a blocker', async () => {
    const on = await up(startTgi({ prefillLogprobs: true, chat: 'llama3' }));
    const p = await doctor(config(on.url, { base: { provider: 'tgi' } }));
    assert.deepEqual(p.blockers, []);
    assert.deepEqual(
      [p.probes.echo, p.probes.maxTokens, p.probes.promptLogprobs, p.probes.firstTokenNull, p.probes.offsetUnit, p.probes.listPrompts, p.probes.tokenIdPrompts, p.probes.addsBos, p.probes.doubleBos, p.probes.deterministic, p.probes.templateSanity],
      [true, 1, true, true, 'absent', false, false, true, true, true, true],
    );
    const off = await up(startTgi({ prefillLogprobs: false }));
    const q = await doctor(config(off.url, { base: { provider: 'tgi' } }));
    assert.equal(q.probes.promptLogprobs, false);
    assert.match(q.blockers[0], /--enable-prefill-logprobs/);
  });

  it('llama.cpp server: no prompt log-probs, a blocker; cje doctor exits 1 and --json says why', async () => {
    const s = await up(startLlamaCpp({}));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-doctor-'));
    try {
      const file = path.join(dir, 'cje.config.json');
      fs.writeFileSync(file, JSON.stringify(config(s.url)));
      let out = '';
      let err = '';
      const code = await main(['doctor', file, '--json'], { out: { write: (t: string) => ((out += t), true) } as never, err: { write: (t: string) => ((err += t), true) } as never });
      assert.equal(code, 1, err);
      const j = JSON.parse(out) as { endpoints: EndpointProfile[] };
      const e = j.endpoints[0];
      assert.deepEqual([e.provider, e.baseURL, e.model, e.policies], ['openai-compatible', s.url, 'toy-model', ['base']]);
      assert.equal(e.probes.promptLogprobs, false);
      assert.equal(e.probes.noiseFloor, null);
      assert.match(e.blockers[0], /llama\.cpp's server does this/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a nondeterministic server: deterministic false, the per-token noise floor within 10% of the level it was set to', async () => {
    const level = 0.9;
    const s = await up(startNoisy({ level, seed: 7, chat: 'llama3' }));
    const p = await doctor(config(s.url));
    assert.equal(p.probes.deterministic, false);
    const f = p.probes.noiseFloorToken!;
    assert.ok(f >= 0.9 * level && f <= level, `noise floor ${f} for level ${level}`);
    assert.ok(p.probes.noiseFloor! > f, 'a response moves by more than its largest single token');
    // Noise alone is not a cache or batch effect.
    assert.equal(p.probes.prefixCacheConsistent, true);
    assert.equal(p.probes.batchInvariant, true);
  });
});
