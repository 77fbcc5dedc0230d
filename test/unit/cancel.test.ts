// Ctrl-C ends `cje score` at once, even while a server answers 429 with a long
// Retry-After (before: the run went on for seconds until a second Ctrl-C, exit 130).
// A real child process and a real loopback server; the server's Retry-After
// (30 s) is longer than this test may take (15 s), so an exit at all is the proof.

import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';

const CJE = path.resolve(__dirname, '../../../bin/cje.js');

describe('Ctrl-C during a long Retry-After', function () {
  this.timeout(15_000);
  let dir: string;
  let server: http.Server;
  let url: string;
  let requests = 0;
  let firstRequest: () => void;
  let sawRequest: Promise<void>;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-cancel-'));
    requests = 0;
    sawRequest = new Promise((r) => (firstRequest = r));
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        requests++;
        firstRequest();
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '30' });
        res.end(JSON.stringify({ error: { message: 'Rate limit exceeded, please retry later.' } }));
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    server.unref();
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
    fs.writeFileSync(path.join(dir, 'log.jsonl'), Array.from({ length: 40 }, (_, i) => JSON.stringify({ prompt_id: `q${i}`, prompt: `Question ${i}?`, response: `Answer ${i}.` })).join('\n') + '\n');
    fs.writeFileSync(
      path.join(dir, 'cje.config.json'),
      JSON.stringify({ behavior: 'base', policies: { base: { provider: 'openai-compatible', baseURL: [url, url.replace('127.0.0.1', 'localhost')], model: 'toy', template: 'chatml', batchSize: 2, concurrency: 4 } } }),
    );
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((ok) => server.close(() => ok()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = async (args: string[]) => {
    const child = spawn(process.execPath, [CJE, 'score', path.join(dir, 'log.jsonl'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('close', (code, signal) => r({ code, signal })));
    await sawRequest;
    // Let the 429s come back and the waits begin.
    await new Promise((r) => setTimeout(r, 300));
    const before = requests;
    child.kill('SIGINT');
    const end = await closed;
    return { ...end, stdout, stderr, before };
  };

  it('while scoring: one Ctrl-C, exit 1 with the summary marked CANCELLED, nothing sent after it', async () => {
    const r = await run(['--no-probe']);
    assert.equal(r.signal, null, 'ended by itself, not killed');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cancelling — results already written are kept/);
    assert.match(r.stdout, /scored 0 .*· CANCELLED/);
    assert.doesNotMatch(r.stderr, /^cje: /m);
    assert.equal(requests, r.before, 'no request after the Ctrl-C');
  });

  it('while the endpoint is being probed: a cancel, not a verdict (no "cannot score", no profile kept, not exit 2)', async () => {
    const r = await run([]);
    assert.equal(r.signal, null);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /CANCELLED/);
    assert.doesNotMatch(r.stderr, /cannot score|cannot reach|^cje: /m);
    const scores = path.join(dir, 'log.scores.jsonl');
    const lines = fs.existsSync(scores) ? fs.readFileSync(scores, 'utf8').split('\n').filter(Boolean) : [];
    assert.equal(lines.filter((l) => l.includes('"endpoint_profile"')).length, 0);
  });
});
