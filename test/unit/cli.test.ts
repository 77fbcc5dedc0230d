// The command line as a user meets it: help, version, typos, unreadable inputs,
// the report finding its config, one prefix per error line. Driven in-process
// through main(argv, io); expected texts are written out here by hand.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { COMMANDS } from '../../src/cli/main';
import { closest, editDistance } from '../../src/cli/did-you-mean';
import { cje, Sink } from '../support/cli-run';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** Each command's options as the README documents them, written apart from the command table. */
const OPTIONS: Record<string, string[]> = {
  score: ['--config CONFIG', '--out FILE', '--policy NAME ...', '--json', '--quiet', '--max-line-bytes N', '--dry-run', '--field NAME=PATH ...', '--tokens all|flagged|none'],
  report: ['--log LOG', '--config CONFIG', '--behavior NAME', '--identical TARGET=BEHAVIOR ...', '--out FILE', '--json FILE', '--token-records N', '--bootstrap B', '--quiet', '--field NAME=PATH ...'],
  export: ['--config CONFIG', '--scores FILE', '--out FILE', '--field NAME=PATH ...', '--json', '--quiet'],
  lint: ['--json', '--fix', '--no-tokenizers', '--log LOG ...'],
  worker: ['--port N', '--device auto|cpu|cuda', '--dtype fp32|fp16|q8', '--max-batch-tokens N', '--exit-with-stdin'],
};
const REQUIRED: Record<string, string[]> = { worker: ['--model DIR'], export: ['--format FORMAT'] };

describe('cje: help, version and typos', () => {
  for (const name of Object.keys(OPTIONS)) {
    for (const flag of ['--help', '-h']) {
      it(`cje ${name} ${flag} prints its own usage with every option explained and exits 0`, async () => {
        const r = await cje(name, flag);
        assert.equal(r.code, 0, r.err);
        assert.equal(r.err, '');
        assert.ok(r.out.startsWith(`Usage:\n  cje ${name} `), r.out);
        for (const o of [...OPTIONS[name], ...(REQUIRED[name] ?? []), '--help']) {
          assert.match(r.out, new RegExp(`^  (-\\w, |    )${o.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(  +|\\n {20,})\\S`, 'm'), `${o} has its own line, its summary beside or under it`);
        }
        for (const o of REQUIRED[name] ?? []) assert.match(r.out, new RegExp(`${o}  +\\(required\\)`));
        assert.doesNotMatch(r.out, /To specify a positional argument/);
      });
    }
  }

  it('help wins over everything else on the line, even a missing required option', async () => {
    const r = await cje('worker', '--port', '9', '-h');
    assert.equal(r.code, 0);
    assert.match(r.out, /^Usage:\n  cje worker --model DIR \[--port N\]/);
    assert.equal((await cje('help', 'lint')).out, (await cje('lint', '--help')).out);
  });

  it('the global usage lists every option of every command, what is optional in [ ], and exits 0 on --help', async () => {
    const r = await cje('--help');
    assert.equal(r.code, 0);
    assert.match(r.out, /what is in \[ \] is optional/);
    // Each command's block runs from its synopsis to the next "  cje ".
    const blocks = r.out.split(/\n(?=  cje )/);
    for (const [name, opts] of Object.entries(OPTIONS)) {
      const block = blocks.find((b) => b.startsWith(`  cje ${name} `));
      assert.ok(block, `${name} is listed`);
      const flat = block.replace(/\s+/g, ' ');
      for (const o of opts) assert.ok(flat.includes(`[${o}]`), `${name}: [${o}] in\n${block}`);
      for (const o of REQUIRED[name] ?? []) assert.ok(flat.includes(` ${o} `) && !flat.includes(`[${o}]`), `${name}: ${o} is not marked optional`);
    }
    assert.ok(r.out.includes('[--config CONFIG]'));
    // And whatever the table holds (a command added later included) is in it too.
    for (const c of COMMANDS) for (const o of Object.keys(c.options)) assert.ok(r.out.includes(`--${o}`), `--${o} of ${c.name}`);
    const bare = await cje();
    assert.equal(bare.code, 2, 'no command is bad usage');
    assert.equal(bare.err, r.out);
  });

  it('cje --version prints the version in package.json', async () => {
    const v = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
    assert.match(v, /^\d+\.\d+\.\d+/);
    assert.deepEqual(await cje('--version'), { code: 0, out: `${v}\n`, err: '' });
  });

  it('unknown commands and options get a "did you mean", in one line, exit 2', async () => {
    assert.deepEqual(await cje('scroe', 'x.jsonl'), { code: 2, out: '', err: 'cje: unknown command "scroe"; did you mean score? (cje --help lists them)\n' });
    assert.deepEqual(await cje('lnit'), { code: 2, out: '', err: 'cje: unknown command "lnit"; did you mean lint? (cje --help lists them)\n' });
    assert.deepEqual(await cje('frobnicate'), { code: 2, out: '', err: 'cje: unknown command "frobnicate"; the commands are score, report, export, doctor, lint, worker (cje --help lists them)\n' });
    assert.deepEqual(await cje('score', 'x.jsonl', '--confg', 'c.json'), { code: 2, out: '', err: 'cje score: unknown option --confg; did you mean --config?\n' });
    assert.deepEqual(await cje('report', 'x.jsonl', '--jsno', 'r.json'), { code: 2, out: '', err: 'cje report: unknown option --jsno; did you mean --json?\n' });
    assert.deepEqual(await cje('worker', '--modle', 'm'), { code: 2, out: '', err: 'cje worker: unknown option --modle; did you mean --model?\n' });
    assert.deepEqual(await cje('score', 'x.jsonl', '-C', 'c.json'), { code: 2, out: '', err: 'cje score: unknown option -C; did you mean -c (--config)?\n' });
    assert.deepEqual(await cje('lint', 'c.json', '--zzz'), { code: 2, out: '', err: 'cje lint: unknown option --zzz (cje lint --help lists its options)\n' });
    assert.deepEqual(await cje('--verison'), { code: 2, out: '', err: 'cje: unknown option --verison; did you mean --version? (options go after the command: cje COMMAND --help lists them)\n' });
  });

  it('options without their value, values given to flags, wrong argument counts: one line each, exit 2', async () => {
    assert.deepEqual(await cje('score', 'x.jsonl', '--config'), { code: 2, out: '', err: 'cje score: --config needs a value: --config CONFIG\n' });
    assert.deepEqual(await cje('score', 'x.jsonl', '--config', '--json'), {
      code: 2,
      out: '',
      err: "cje score: --config needs a value, not the option --json: --config CONFIG (a value that starts with '-' is written --config=--json)\n",
    });
    assert.deepEqual(await cje('score', 'x.jsonl', '--json=yes'), { code: 2, out: '', err: 'cje score: --json takes no value (got --json=yes)\n' });
    assert.deepEqual(await cje('score'), { code: 2, out: '', err: 'cje score: takes exactly one LOG: the log to score (.jsonl, .jsonl.gz, or .csv with a header) (got none)\n' });
    assert.deepEqual(await cje('score', 'a.jsonl', 'b.jsonl'), { code: 2, out: '', err: 'cje score: takes exactly one LOG (got 2: a.jsonl b.jsonl)\n' });
    assert.deepEqual(await cje('lint'), { code: 2, out: '', err: 'cje lint: takes at least one CONFIG: a config file, e.g. cje.config.json (got none)\n' });
    assert.deepEqual(await cje('worker'), {
      code: 2,
      out: '',
      err: 'cje worker: needs --model DIR: a folder with config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx\n',
    });
    assert.deepEqual(await cje('worker', '--model', 'm', 'extra'), { code: 2, out: '', err: 'cje worker: takes no positional argument (got extra)\n' });
    // A negative number is a value, not an option: the command's own check answers.
    assert.deepEqual(await cje('worker', '--model', 'm', '--port', '-1'), { code: 2, out: '', err: 'cje worker: --port must be an integer 0..65535 (0 = any free port), got -1\n' });
  });

  it('edit distance: published values (optimal string alignment) and the typos above', () => {
    assert.equal(editDistance('kitten', 'sitting'), 3); // Levenshtein's classic example
    assert.equal(editDistance('ca', 'abc'), 3); // OSA, not unrestricted Damerau-Levenshtein (2): Wikipedia's example
    assert.equal(editDistance('scroe', 'score'), 1); // one swap
    assert.equal(editDistance('confg', 'config'), 1);
    assert.equal(editDistance('', 'lint'), 4);
    assert.equal(closest('scroe', ['score', 'report', 'lint', 'worker']), 'score');
    assert.equal(closest('conf', ['config', 'out']), 'config', 'a unique prefix');
    assert.equal(closest('xyzzy', ['score', 'report', 'lint', 'worker']), undefined);
    assert.equal(closest('Config', ['config']), 'config', 'case');
  });
});

describe('cje score: a log that cannot be read', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-cli-'));
    // A local policy whose worker would fail loudly if it were started: a start would show in stderr.
    fs.writeFileSync(path.join(dir, 'cje.config.json'), JSON.stringify({ behavior: 'base', policies: { base: { provider: 'local', model: './no-model-here', template: 'llama3' } } }));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a missing log: exit 2, one line, no worker, nothing created (also with --dry-run)', async () => {
    const log = path.join(dir, 'nosuch.jsonl');
    for (const extra of [[], ['--dry-run'], ['--config', path.join(dir, 'cje.config.json')]]) {
      assert.deepEqual(await cje('score', log, ...extra), { code: 2, out: '', err: `cje score: ${log}: no such file\n` });
      assert.deepEqual(fs.readdirSync(dir), ['cje.config.json'], 'no scores file');
    }
  });

  it('a folder given as the log: exit 2, one line, nothing created', async () => {
    const sub = path.join(dir, 'logs.jsonl');
    fs.mkdirSync(sub);
    assert.deepEqual(await cje('score', sub), { code: 2, out: '', err: `cje score: ${sub}: is a folder, not a file\n` });
    assert.deepEqual(fs.readdirSync(dir).sort(), ['cje.config.json', 'logs.jsonl']);
    assert.deepEqual(fs.readdirSync(sub), []);
  });

  it('a log without read permission: exit 2, one line, nothing created', async function () {
    const log = path.join(dir, 'locked.jsonl');
    fs.writeFileSync(log, '{"prompt": "p", "response": "r"}\n');
    fs.chmodSync(log, 0o000);
    let r: { code: number | null; out: string; err: string };
    if (process.getuid?.() === 0) {
      // Root reads any file: run the CLI as the unprivileged user "nobody" instead.
      fs.chmodSync(dir, 0o755);
      const ran = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, path.join(ROOT, 'bin', 'cje.js'), 'score', log], { encoding: 'utf8' });
      if (ran.error || /runuser:/.test(ran.stderr)) this.skip(); // no runuser / no user "nobody": the case cannot be made here
      r = { code: ran.status, out: ran.stdout, err: ran.stderr };
    } else r = await cje('score', log);
    assert.deepEqual(r, { code: 2, out: '', err: `cje score: ${log}: cannot read it (permission denied)\n` });
    assert.deepEqual(fs.readdirSync(dir).sort(), ['cje.config.json', 'locked.jsonl']);
  });

  it('errors keep one prefix: a local worker that cannot start', async function () {
    this.timeout(60000);
    const log = path.join(dir, 'log.jsonl');
    fs.writeFileSync(log, '{"prompt": "p", "response": "r"}\n');
    const r = await cje('score', log, '--quiet');
    assert.equal(r.code, 2);
    assert.equal(r.err, `cje score: model folder ${path.join(dir, 'no-model-here')} does not exist\n`);
    const w = await cje('worker', '--model', path.join(dir, 'no-model-here'));
    assert.deepEqual(w, { code: 2, out: '', err: `cje worker: model folder ${path.join(dir, 'no-model-here')} does not exist\n` });
  });
});

describe('cje report finds the config as cje score does', () => {
  let dir: string;
  // Three records; base and clone are the same policy (one fingerprint), other is not.
  //            r1     r2     r3
  //   base    −10    −20    −30
  //   clone   −10    −20    −30   (log w = 0: identical)
  //   other    −9    −21    −30
  const lps: Record<string, number[]> = { base: [-10, -20, -30], clone: [-10, -20, -30], other: [-9, -21, -30] };
  const pol = { provider: 'openai-compatible', baseURL: 'http://127.0.0.1:9/v1', model: 'toy', template: 'chatml', systemPrompt: 'Be brief.' };
  const config = JSON.stringify({ behavior: 'base', policies: { base: pol, clone: pol, other: { ...pol, systemPrompt: 'Be long.' } } });
  function write(at: string): { log: string; scores: string } {
    fs.mkdirSync(at, { recursive: true });
    const log = path.join(at, 'log.jsonl');
    fs.writeFileSync(log, [1, 2, 3].map((i) => JSON.stringify({ prompt_id: `r${i}`, prompt: `q${i}`, response: `a${i}`, judge_score: i / 4 })).join('\n') + '\n');
    const scores = path.join(at, 'log.scores.jsonl');
    const lines = Object.entries(lps).flatMap(([policy, v]) =>
      v.map((lp, i) =>
        JSON.stringify({ key: `k${policy}${i}`, record: `r${i + 1}`, line: i + 1, policy, fingerprint: policy === 'other' ? 'f2' : 'f1', logprob: lp, tokens: ['x'], token_logprobs: [lp], span: null, error: null, model: 'toy', template: 'chatml', provider: 'openai-compatible', scored_at: '2025-01-01T00:00:00Z' }),
      ),
    );
    fs.writeFileSync(scores, lines.join('\n') + '\n');
    return { log, scores };
  }
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-cli-report-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('beside the log: the behavior, the identical-policy expectation and the log come from there', async () => {
    const { log, scores } = write(dir);
    const cfg = path.join(dir, 'cje.config.json');
    fs.writeFileSync(cfg, config);
    const json = path.join(dir, 'r.json');
    const html = path.join(dir, 'r.html');
    const r = await cje('report', scores, '--out', html, '--json', json, '--bootstrap', '0', '--quiet');
    assert.equal(r.err, '');
    assert.equal(r.code, 0);
    assert.equal(r.out, `\nlog: ${log} (beside the scores file)\nconfig: ${path.relative(process.cwd(), cfg)} (beside the log)\nwrote ${html} (${(fs.statSync(html).size / 1024).toFixed(0)} KiB)\nwrote ${json} (${(fs.statSync(json).size / 1024).toFixed(0)} KiB)\n`);
    const data = JSON.parse(fs.readFileSync(json, 'utf8'));
    assert.equal(data.meta.behavior.name, 'base');
    assert.equal(data.meta.config, cfg);
    assert.equal(data.meta.log, log);
    const clone = data.policies.find((p: { name: string }) => p.name === 'clone');
    assert.deepEqual([clone.identical.expected, clone.identical.source, clone.identical.violation_count], [true, 'config-fingerprint', 0]);
  });

  it('in a folder above the log, up to the working folder', async () => {
    const { scores } = write(path.join(dir, 'runs', 'today'));
    fs.writeFileSync(path.join(dir, 'cje.config.json'), config);
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const r = await cje('report', path.join('runs', 'today', 'log.scores.jsonl'), '--json', 'r.json', '--bootstrap', '0', '--quiet');
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^config: cje\.config\.json \(in a folder above the log\)$/m);
      assert.ok(fs.existsSync(path.join(dir, 'runs', 'today', 'log.scores.report.html')), 'default output: INPUT without .jsonl + .report.html');
      assert.equal(JSON.parse(fs.readFileSync('r.json', 'utf8')).meta.behavior.name, 'base');
    } finally {
      process.chdir(cwd);
    }
    void scores;
  });

  it('without a config anywhere it still asks which policy is the behavior (the check above can fail)', async () => {
    const { scores } = write(dir);
    const r = await cje('report', scores, '--out', path.join(dir, 'r.html'), '--bootstrap', '0');
    assert.equal(r.code, 2);
    assert.match(r.err, /^cje report: which policy is the behavior\?/);
  });

  it('a missing input or --log: exit 2, one line', async () => {
    const gone = path.join(dir, 'gone.scores.jsonl');
    assert.deepEqual(await cje('report', gone), { code: 2, out: '', err: `cje report: ${gone}: no such file\n` });
    const { scores } = write(dir);
    assert.deepEqual(await cje('report', scores, '--log', gone), { code: 2, out: '', err: `cje report: ${gone}: no such file\n` });
  });
});
