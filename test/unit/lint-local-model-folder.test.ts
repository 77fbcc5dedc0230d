// CJE080: a "local" policy whose model folder is missing, is a file, or lacks
// what the worker loads. Places are computed here from the text with indexOf.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../../src/cli/main';
import { lintConfig, LINT_CODES } from '../../src/core/lint';
import { Sink } from '../support/cli-run';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const TINY = path.join(ROOT, 'test', 'fixtures', 'tiny-llama');

function pos(text: string, offset: number): [number, number] {
  const before = text.slice(0, offset).split('\n');
  return [before.length, before[before.length - 1].length + 1];
}

describe('lint CJE080: local model folder', () => {
  let dir: string;
  let file: string;
  const config = (model: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ behavior: 'base', policies: { base: { provider: 'local', model, template: 'llama3', ...extra } } }, null, 2);
  const cje080 = (text: string, opts: { baseDir?: string } = {}) => lintConfig(text, file, { tokenizers: false, ...opts }).diagnostics.filter((d) => d.code === 'CJE080');

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-lint-model-'));
    file = path.join(dir, 'cje.config.json');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is a known error code', () => {
    assert.equal(LINT_CODES.CJE080?.severity, 'error');
  });

  it('a folder that does not exist: one error on the model value, naming the resolved folder', () => {
    const text = config('./models/nosuch');
    const ds = cje080(text);
    assert.equal(ds.length, 1);
    const [d] = ds;
    assert.equal(d.severity, 'error');
    assert.equal(d.path, 'policies.base.model');
    const at = text.indexOf('"./models/nosuch"');
    assert.deepEqual([d.line, d.column, d.offset, d.length], [...pos(text, at), at, '"./models/nosuch"'.length]);
    assert.ok(
      d.message.startsWith(`policy "base": model folder "./models/nosuch" (${path.join(dir, 'models', 'nosuch')}) does not exist, so its local worker cannot start`),
      d.message,
    );
  });

  it('a file instead of a folder, and a folder that lacks the model', () => {
    fs.writeFileSync(path.join(dir, 'model.onnx'), 'not a folder');
    assert.match(cje080(config('model.onnx'))[0]?.message ?? '', /\(.*model\.onnx\) is a file, not a folder/);
    fs.mkdirSync(path.join(dir, 'half'));
    for (const f of ['config.json', 'tokenizer.json']) fs.copyFileSync(path.join(TINY, f), path.join(dir, 'half', f));
    assert.match(cje080(config('half'))[0]?.message ?? '', new RegExp(`\\(${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/half\\) lacks tokenizer_config\\.json, onnx/model\\.onnx,`));
  });

  it('clean: the bundled tiny model (relative to the config), a baseURL policy, a non-local policy', () => {
    assert.deepEqual(cje080(config(path.relative(dir, TINY))), []);
    assert.deepEqual(cje080(config('./nosuch', { baseURL: 'http://127.0.0.1:9000/v1' })), [], 'a running worker serves it');
    const fw = JSON.stringify({ behavior: 'b', policies: { b: { provider: 'fireworks', model: 'accounts/fireworks/models/llama-v3p1-8b-instruct', template: 'llama3' } } });
    assert.deepEqual(cje080(fw), []);
  });

  it("relative folders are resolved against LintOptions.baseDir when given (the editor's cje.localWorkerModelPath)", () => {
    const models = path.join(dir, 'models');
    fs.mkdirSync(models);
    fs.cpSync(TINY, path.join(models, 'tiny'), { recursive: true });
    assert.equal(cje080(config('tiny')).length, 1, 'not beside the config');
    assert.deepEqual(cje080(config('tiny'), { baseDir: models }), []);
  });

  it('cje lint reports it as file:line:col and exits 1; the example config is clean', async () => {
    const text = config('./gone');
    fs.writeFileSync(file, text);
    const out = new Sink();
    const err = new Sink();
    assert.equal(await main(['lint', file, '--no-tokenizers'], { out, err }), 1);
    const [l, c] = pos(text, text.indexOf('"./gone"'));
    assert.match(out.text, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${l}:${c}: error CJE080 policy "base": model folder "\\./gone" `, 'm'));
    const ex = new Sink();
    assert.equal(await main(['lint', path.join(ROOT, 'examples', 'cje.config.json'), '--no-tokenizers'], { out: ex, err: new Sink() }), 0);
    assert.doesNotMatch(ex.text, /CJE080/);
  });
});
