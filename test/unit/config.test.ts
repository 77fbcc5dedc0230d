import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatConfigProblem, loadConfig, parseConfig, type ConfigProblem } from '../../src/core/config';

/**
 * 1-based line and column of the `nth` occurrence (0-based) of `needle` in `text`, computed by
 * splitting the text into lines — independently of the code under test.
 */
function where(text: string, needle: string, nth = 0): { line: number; column: number } {
  let seen = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let from = 0;
    for (let c = lines[i].indexOf(needle, from); c !== -1; c = lines[i].indexOf(needle, from)) {
      if (seen++ === nth) return { line: i + 1, column: c + 1 };
      from = c + 1;
    }
  }
  throw new Error(`${JSON.stringify(needle)} not found ${nth + 1} times in the text`);
}

function only(problems: ConfigProblem[]): ConfigProblem {
  assert.equal(problems.length, 1, JSON.stringify(problems, null, 2));
  return problems[0];
}

function at(p: ConfigProblem, pos: { line: number; column: number }): void {
  assert.deepEqual({ line: p.line, column: p.column }, pos, JSON.stringify(p));
}

/** A config with one policy `base` whose fields are `policy` (JSON text of the object's inside). */
function withPolicy(policy: string, behavior = 'base'): string {
  return `{
  "behavior": "${behavior}",
  "policies": {
    "base": {
${policy}
    }
  }
}
`;
}

const FIREWORKS = `      "provider": "fireworks",
      "model": "accounts/fireworks/models/llama-v3p1-8b-instruct",
      "template": "llama3"`;

describe('parseConfig', () => {
  it('accepts a valid config with line and block comments and trailing commas', () => {
    const text = `// Policies for the arena experiment
{
  /* the policy that produced the log */
  "behavior": "base",
  "policies": {
    "base": {
      "provider": "fireworks", // scored on Fireworks
      "model": "accounts/fireworks/models/llama-v3p1-8b-instruct",
      "template": "llama3",
      "systemPrompt": "You are a helpful assistant",
    },
    "premium": {"provider": "fireworks", "model": "accounts/fireworks/models/llama4-maverick-instruct-basic", "template": "llama4", "concurrency": 8},
    "local": {"provider": "local", "model": "./models/tiny", "template": "chatml", "baseURL": "http://127.0.0.1:8000/v1"},
    "vllm": {"provider": "openai-compatible", "model": "m", "template": "chatml", "baseURL": "https://example.invalid/v1", "apiKeyEnv": "VLLM_KEY"},
  },
  "logprobTolerance": 0.05,
}
`;
    const r = parseConfig(text, 'cfg.jsonc');
    assert.deepEqual(r.problems, []);
    assert.equal(r.file, 'cfg.jsonc');
    assert.deepEqual(r.config, {
      behavior: 'base',
      policies: {
        base: {
          provider: 'fireworks',
          model: 'accounts/fireworks/models/llama-v3p1-8b-instruct',
          template: 'llama3',
          systemPrompt: 'You are a helpful assistant',
        },
        premium: { provider: 'fireworks', model: 'accounts/fireworks/models/llama4-maverick-instruct-basic', template: 'llama4', concurrency: 8 },
        local: { provider: 'local', model: './models/tiny', template: 'chatml', baseURL: 'http://127.0.0.1:8000/v1' },
        vllm: { provider: 'openai-compatible', model: 'm', template: 'chatml', baseURL: 'https://example.invalid/v1', apiKeyEnv: 'VLLM_KEY' },
      },
      logprobTolerance: 0.05,
    });
  });

  it('reports a syntax error with its line and column and no config', () => {
    // Missing comma after "base": the parser stops at the next token, "policies".
    const text = '{\n  "behavior": "base"\n  "policies": {}\n}\n';
    const r = parseConfig(text);
    assert.equal(r.config, null);
    const p = only(r.problems);
    assert.equal(p.path, '');
    assert.match(p.message, /syntax/i);
    assert.match(p.message, /Comma/);
    at(p, where(text, '"policies"'));
    assert.equal(p.offset, text.indexOf('"policies"'));
  });

  it('reports an unclosed object', () => {
    const r = parseConfig('{\n  "behavior": "base",\n  "policies": {\n');
    assert.equal(r.config, null);
    assert.ok(r.problems.length >= 1);
    assert.ok(r.problems.every((p) => p.path === '' && /syntax/i.test(p.message)));
  });

  it('reports an empty file', () => {
    const r = parseConfig('   \n');
    assert.equal(r.config, null);
    assert.equal(r.problems.length, 1);
  });

  it('reports a behavior that is not among the policies, on its value', () => {
    const text = withPolicy(FIREWORKS, 'nope');
    const r = parseConfig(text);
    assert.equal(r.config, null);
    const p = only(r.problems);
    assert.equal(p.path, 'behavior');
    assert.match(p.message, /nope/);
    assert.match(p.message, /base/);
    at(p, where(text, '"nope"'));
  });

  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    it(`reports behavior "${name}" (an Object.prototype member) as not among the policies`, () => {
      const text = withPolicy(FIREWORKS, name);
      const r = parseConfig(text);
      assert.equal(r.config, null);
      const p = only(r.problems);
      assert.equal(p.path, 'behavior');
      at(p, where(text, `"${name}"`));
    });
  }

  it('reports an unknown field in a policy at its key', () => {
    const text = withPolicy(`${FIREWORKS},\n      "temperature": 0.7`);
    const r = parseConfig(text);
    assert.equal(r.config, null);
    const p = only(r.problems);
    assert.equal(p.path, 'policies.base.temperature');
    assert.match(p.message, /not a known field/);
    at(p, where(text, '"temperature"'));
    assert.equal(p.offset, text.indexOf('"temperature"'));
    assert.equal(p.length, '"temperature"'.length);
  });

  it('reports an unknown top-level field at its key', () => {
    const text = `{"behavior": "base",\n "polices": {},\n "policies": {"base": {"provider": "fireworks", "model": "m", "template": "t"}}}`;
    const p = only(parseConfig(text).problems);
    assert.equal(p.path, 'polices');
    at(p, where(text, '"polices"'));
  });

  it('reports a wrong type (concurrency "4") on the value', () => {
    const text = withPolicy(`${FIREWORKS},\n      "concurrency": "4"`);
    const r = parseConfig(text);
    assert.equal(r.config, null);
    const p = only(r.problems);
    assert.equal(p.path, 'policies.base.concurrency');
    assert.match(p.message, /integer/);
    at(p, where(text, '"4"'));
  });

  it('reports every problem at once, each at its own place', () => {
    const text = withPolicy(`      "provider": "fireworks",\n      "model": "",\n      "template": "llama3",\n      "batchSize": 0,\n      "scoreEndOfTurn": "yes"`);
    const r = parseConfig(text);
    const byPath = new Map(r.problems.map((p) => [p.path, p]));
    assert.deepEqual([...byPath.keys()].sort(), ['policies.base.batchSize', 'policies.base.model', 'policies.base.scoreEndOfTurn']);
    at(byPath.get('policies.base.model')!, where(text, '""'));
    at(byPath.get('policies.base.batchSize')!, where(text, '0,'));
    at(byPath.get('policies.base.scoreEndOfTurn')!, where(text, '"yes"'));
  });

  for (const [provider, shown] of [
    ['anthropic', 'Anthropic'],
    ['openai', 'OpenAI'],
    ['google', 'Google'],
  ] as const) {
    it(`rejects provider "${provider}" once, with the chat-only message`, () => {
      const text = withPolicy(`      "provider": "${provider}",\n      "model": "some-model",\n      "template": "llama3"`);
      const r = parseConfig(text);
      assert.equal(r.config, null);
      // Exactly one problem: not a second "must be one of" enum error for the same field.
      const p = only(r.problems);
      assert.equal(p.path, 'policies.base.provider');
      assert.ok(p.message.includes(shown), p.message);
      assert.match(p.message, /chat API/);
      assert.match(p.message, /teacher-force|echo/);
      for (const alt of ['fireworks', 'openai-compatible', 'local']) assert.ok(p.message.includes(`"${alt}"`), `names ${alt}: ${p.message}`);
      assert.doesNotMatch(p.message, /must be one of/);
      at(p, where(text, `"${provider}"`));
    });
  }

  it('rejects an unknown provider with the enum error, not the chat-only message', () => {
    const text = withPolicy(`      "provider": "together",\n      "model": "m",\n      "template": "llama3"`);
    const p = only(parseConfig(text).problems);
    assert.equal(p.path, 'policies.base.provider');
    assert.match(p.message, /must be one of/);
    at(p, where(text, '"together"'));
  });

  it('rejects provider "constructor" (an Object.prototype member) with the enum error, not as a chat API', () => {
    const text = withPolicy(`      "provider": "constructor",\n      "model": "m",\n      "template": "llama3"`);
    const p = only(parseConfig(text).problems);
    assert.equal(p.path, 'policies.base.provider');
    assert.match(p.message, /must be one of/);
    assert.doesNotMatch(p.message, /chat API|function/);
  });

  it('a chat-only provider in a policy with a numeric name is still reported once, with the right path and place', () => {
    const text = `{\n  "behavior": "1",\n  "policies": {\n    "1": {"provider": "anthropic", "model": "m", "template": "t", "concurrency": "8"}\n  }\n}\n`;
    const r = parseConfig(text);
    const paths = r.problems.map((p) => p.path).sort();
    assert.deepEqual(paths, ['policies.1.concurrency', 'policies.1.provider']);
    at(r.problems.find((p) => p.path === 'policies.1.provider')!, where(text, '"anthropic"'));
    at(r.problems.find((p) => p.path === 'policies.1.concurrency')!, where(text, '"8"'));
  });

  it('reports openai-compatible without baseURL on the policy', () => {
    const text = withPolicy(`      "provider": "openai-compatible",\n      "model": "m",\n      "template": "chatml"`);
    const r = parseConfig(text);
    assert.equal(r.config, null);
    const p = only(r.problems);
    assert.equal(p.path, 'policies.base');
    assert.match(p.message, /openai-compatible/);
    assert.match(p.message, /baseURL/);
    // On the policy's object value: the "{" after "base":.
    at(p, where(text, '{', 2));
    assert.equal(text[p.offset!], '{');
  });

  it('accepts local without baseURL (a worker is started for the model folder), and openai-compatible with one', () => {
    assert.deepEqual(parseConfig(withPolicy(`      "provider": "local",\n      "model": "./m",\n      "template": "chatml"`)).problems, []);
    const r = parseConfig(withPolicy(`      "provider": "openai-compatible",\n      "model": "m",\n      "template": "chatml",\n      "baseURL": "http://127.0.0.1:8000/v1"`));
    assert.deepEqual(r.problems, []);
    assert.ok(r.config);
  });

  it('reports a baseURL that is not http(s)', () => {
    const text = withPolicy(`      "provider": "openai-compatible",\n      "model": "m",\n      "template": "chatml",\n      "baseURL": "127.0.0.1:8000/v1"`);
    const p = only(parseConfig(text).problems);
    assert.equal(p.path, 'policies.base.baseURL');
    at(p, where(text, '"127.0.0.1:8000/v1"'));
  });

  it('reports a missing template on the policy', () => {
    const text = withPolicy(`      "provider": "fireworks",\n      "model": "m"`);
    const r = parseConfig(text);
    assert.equal(r.config, null);
    const p = only(r.problems);
    assert.equal(p.path, 'policies.base');
    assert.match(p.message, /missing/);
    assert.match(p.message, /"template"/);
    at(p, where(text, '{', 2));
  });

  it('reports missing behavior and policies on the root', () => {
    const r = parseConfig('{}');
    assert.deepEqual(r.problems.map((p) => p.message).sort(), ['is missing the required field "behavior"', 'is missing the required field "policies"']);
    for (const p of r.problems) {
      assert.equal(p.path, '');
      at(p, { line: 1, column: 1 });
    }
  });
});

describe('formatConfigProblem', () => {
  it('prints file:line:col: path message', () => {
    const text = withPolicy(`${FIREWORKS},\n      "concurrency": "4"`);
    const p = only(parseConfig(text, 'x/cje.config.json').problems);
    const { line, column } = where(text, '"4"');
    assert.equal(formatConfigProblem('x/cje.config.json', p), `x/cje.config.json:${line}:${column}: policies.base.concurrency ${p.message}`);
  });

  it('leaves out an empty path and a missing position', () => {
    assert.equal(formatConfigProblem('f.json', { path: '', message: 'JSON syntax: X', line: 2, column: 5 }), 'f.json:2:5: JSON syntax: X');
    assert.equal(formatConfigProblem('f.json', { path: '', message: 'cannot read' }), 'f.json: cannot read');
    assert.equal(formatConfigProblem('f.json', { path: 'a.b', message: 'is bad' }), 'f.json: a.b is bad');
  });
});

describe('loadConfig', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-config-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads a file with a BOM and CRLF line endings; positions count CRLF lines', () => {
    const text = withPolicy(`${FIREWORKS},\r\n      "concurrency": "4"`).replace(/\r?\n/g, '\r\n');
    const f = path.join(dir, 'cje.config.json');
    fs.writeFileSync(f, '\uFEFF' + text);
    const r = loadConfig(f);
    assert.equal(r.file, f);
    const p = only(r.problems);
    assert.equal(p.path, 'policies.base.concurrency');
    at(p, where(text, '"4"'));
  });

  it('a missing file is one problem, no config', () => {
    const f = path.join(dir, 'nope.json');
    const r = loadConfig(f);
    assert.equal(r.config, null);
    const p = only(r.problems);
    assert.match(p.message, /cannot read/);
  });
});
