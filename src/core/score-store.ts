import * as fs from 'node:fs';
import * as path from 'node:path';
import { readLines } from './jsonl-lines';
import { isExtraLine, type EndpointProfile, type ExtraLine, type RepeatLine } from './endpoint-profile';
import { ResumeIndex, keyHash96, type KeyHash } from './resume-index';
import { ANSWER_CHECKS_VERSION, recheckStoredSpan } from './span';
import { packScoreLine, unpackScoreLine, type TokenDetail } from './score-line-form';
import type { LogIssue, ScoreLine } from './types';
import { pidAlive } from './pid-alive';
import { parseSampleId } from './sample-id';

export interface StoreOpenReport {
  /** Lines already in the file that hold a result. */
  results: number;
  /** A last line cut off by a crash, removed so that it is scored again. */
  truncated?: { line: number; bytes: number };
  /** Lines that are not valid score lines (skipped; their records are scored again). */
  corrupt: LogIssue[];
  /** Results written before the current answer checks that fail them now: their records are scored again. */
  rechecked?: { failed: number; examples: LogIssue[] };
}

/** The scores file cannot be written (a full disk, a read-only folder): the run stops; what was written is kept. */
export class StoreWriteError extends Error {
  constructor(readonly file: string, readonly errno: NodeJS.ErrnoException) {
    super(
      `cannot write ${file}: ${errno.code === 'ENOSPC' ? 'no space left on the device' : errno.code === 'EDQUOT' ? 'disk quota exceeded' : errno.message} (${errno.code ?? 'error'})` +
        (errno.code === 'ENOSPC' || errno.code === 'EDQUOT' ? '; what was written is kept, free space and run the same command again to resume' : ''),
    );
  }
}

/** Another process is writing the same scores file. */
export class StoreLockedError extends Error {}

/**
 * The scores sidecar: an append-only JSONL file. Each result is written with
 * one write() as soon as it arrives, so a run killed at any point (kill -9)
 * keeps every line it finished; the only damage possible is a half-written
 * last line, which open() detects and cuts off.
 */
export class ScoreStore {
  /** Per key: where its first good line is, its numbers, and which (log line, policy) pairs have a result; a record that repeats another's prompt and response still gets its own. */
  private readonly done: ResumeIndex;
  private fd: number | undefined;
  private readFd: number | undefined;
  private size = 0;
  /** Endpoint profiles found in the file, newest last. */
  readonly profiles: EndpointProfile[] = [];
  /** Keys (with policy) that already have repeat lines: a resumed --repeat does not measure them again. */
  private readonly repeated = new Set<string>();

  private lockFile: string | undefined;
  private lockText: string | undefined;

  /** How lines are written (score-line-form.ts); undefined: whole, as before packing. */
  private tokens: TokenDetail | undefined;

  private constructor(
    readonly file: string,
    keyHash: KeyHash,
  ) {
    this.done = new ResumeIndex(keyHash);
  }

  /**
   * Opens (or creates) a scores file. With `lock`, takes FILE.lock for this
   * process: a second run on the same file stops at once and says who holds
   * it; a lock left by a killed run (its pid gone) is taken over.
   */
  static async open(
    file: string,
    opts: { lock?: boolean; tokens?: TokenDetail; /** For tests: how keys are hashed into the index. */ keyHash?: KeyHash } = {},
  ): Promise<{ store: ScoreStore; report: StoreOpenReport }> {
    const store = new ScoreStore(file, opts.keyHash ?? keyHash96);
    store.tokens = opts.tokens;
    const report: StoreOpenReport = { results: 0, corrupt: [] };
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new StoreWriteError(file, Object.assign(new Error('it is a folder, not a file (give a file name)'), { code: 'EISDIR' }));
    // A scores file in a folder that does not exist yet: the folder is made, as the report does for its page.
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    if (opts.lock) store.takeLock();
    try {
      await store.load(report);
      store.fd = fs.openSync(file, 'a');
    } catch (e) {
      store.close();
      throw e;
    }
    return { store, report };
  }

  private takeLock(): void {
    const lock = `${this.file}.lock`;
    const mine = JSON.stringify({ pid: process.pid, started: new Date().toISOString(), token: Math.random().toString(36).slice(2) });
    for (let attempt = 0; attempt < 3; attempt++) {
      // Written whole to a file of our own, then linked into place: a lock is never seen half-written.
      const tmp = `${lock}.${process.pid}.${Date.now().toString(36)}.tmp`;
      try {
        fs.writeFileSync(tmp, mine);
      } catch {
        return; // a folder we cannot write: the open below says so
      }
      try {
        fs.linkSync(tmp, lock);
        this.lockFile = lock;
        this.lockText = mine;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      } finally {
        fs.rmSync(tmp, { force: true });
      }
      let holder: { pid?: number; started?: string } = {};
      try {
        holder = JSON.parse(fs.readFileSync(lock, 'utf8'));
      } catch {
        /* unreadable: left by an older version or a broken disk; treated as stale below */
      }
      // Another run, in another process or in this one (two runs in one extension host), holds it while its pid lives.
      if (typeof holder.pid === 'number' && pidAlive(holder.pid)) {
        throw new StoreLockedError(`${this.file} is being written by another cje run (pid ${holder.pid}${holder.pid === process.pid ? ', this process' : ''}, since ${holder.started ?? '?'}): wait for it to finish or stop it (${lock})`);
      }
      fs.rmSync(lock, { force: true });
    }
    throw new StoreLockedError(`${this.file}: could not take ${lock} (another run keeps taking it)`);
  }

  private async load(report: StoreOpenReport): Promise<void> {
    const file = this.file;
    const store = this;
    // Only a regular file holds earlier results (a device such as /dev/full is written to, never read back).
    if (fs.existsSync(file) && fs.statSync(file).isFile()) {
      let keepBytes = 0;
      for await (const l of readLines(file, { maxLineBytes: 256 * 1024 * 1024 })) {
        let parsed: ScoreLine | ExtraLine | undefined;
        try {
          parsed = l.text !== undefined && l.text.trim() ? (JSON.parse(l.text) as ScoreLine | ExtraLine) : undefined;
          // Any stored form (packed or whole) back to a ScoreLine; tokens may then be absent (not kept).
          if (parsed && typeof parsed === 'object' && !isExtraLine(parsed)) parsed = unpackScoreLine(parsed as unknown as Record<string, unknown>) as ScoreLine;
        } catch {
          parsed = undefined;
        }
        if (l.unterminated) {
          // Every line is written with its newline in one write(): one without is a write cut short.
          report.truncated = { line: l.line, bytes: l.bytes };
          break;
        }
        keepBytes = l.offset + l.bytes + 1;
        if (l.text !== undefined && !l.text.trim()) continue;
        // Profile and repeat lines say how the endpoint behaved; kinds this version does not know are skipped.
        if (isExtraLine(parsed)) {
          if (parsed.kind === 'endpoint_profile') store.profiles.push(parsed as EndpointProfile);
          else if (parsed.kind === 'repeat') store.repeated.add(repeatKey(parsed as RepeatLine));
          continue;
        }
        if (!parsed || typeof parsed.key !== 'string' || typeof parsed.policy !== 'string') {
          report.corrupt.push({ file, line: l.line, reason: 'not a score line (ignored; its record is scored again)' });
          continue;
        }
        report.results++;
        if (parsed.error === null && typeof parsed.logprob === 'number') {
          // A line that kept no token detail (tokens "flagged" or "none") cannot be re-checked: it is kept, not rescored.
          if (!((parsed.checks ?? 0) >= ANSWER_CHECKS_VERSION) && parsed.tokens !== undefined) {
            const why = recheckStoredSpan(parsed.tokens, parsed.token_logprobs, parsed.logprob);
            if (why) {
              report.rechecked ??= { failed: 0, examples: [] };
              report.rechecked.failed++;
              if (report.rechecked.examples.length < 5) report.rechecked.examples.push({ file, line: l.line, reason: `written before the answer checks, fails them now (scored again): ${why}` });
              continue;
            }
          }
          store.remember(parsed, l.offset);
        }
      }
      if (report.truncated) fs.truncateSync(file, keepBytes);
      store.size = keepBytes;
    }
  }

  private remember(l: ScoreLine, offset: number): void {
    this.done.add(l.key, l.line, coverageName(l.policy, l.record), offset, l.logprob!, !!l.suspect?.length);
  }

  /** Keys with a successful result. */
  get keys(): number {
    return this.done.size;
  }

  /** Whether log line `line` has a result for this key under `policy` (for record `record`: each sampled response of a line has its own). */
  coversLine(key: string, line: number, policy: string, record = ''): boolean {
    return this.done.covers(key, line, coverageName(policy, record));
  }

  /** Whether `policy` already has a successful line for this key. */
  has(key: string, policy: string): boolean {
    return this.done.has(key, policy);
  }

  /** The log-prob of a successful result for this key, without reading the file. */
  logprobOf(key: string): number | undefined {
    return this.done.get(key)?.logprob;
  }

  /** Whether the successful result for this key was kept as suspect. */
  isSuspect(key: string): boolean {
    return this.done.get(key)?.suspect ?? false;
  }

  /** A successful line for this key under any policy of the same fingerprint, read back from the file. */
  find(key: string): ScoreLine | undefined {
    const d = this.done.get(key);
    if (!d || this.fd === undefined) return undefined;
    this.readFd ??= fs.openSync(this.file, 'r');
    // The index keeps no lengths (four bytes a key): read until the line's newline.
    let buf = Buffer.alloc(this.lineGuess);
    let have = 0;
    for (;;) {
      const n = fs.readSync(this.readFd, buf, have, buf.length - have, d.offset + have);
      const nl = buf.indexOf(0x0a, have);
      have += n;
      if (nl !== -1 && nl < have) {
        buf = buf.subarray(0, nl);
        break;
      }
      if (n === 0) {
        buf = buf.subarray(0, have);
        break;
      }
      if (have === buf.length) buf = Buffer.concat([buf, Buffer.alloc(buf.length)]);
    }
    this.lineGuess = Math.max(this.lineGuess, Math.min(1 << 20, buf.length + 1));
    // The first line's bytes include a BOM if the file has one (readLines strips it from the text only).
    // Any stored form; tokens may be absent (not kept): the caller copies the line, and the copy is packed again.
    const line = unpackScoreLine(JSON.parse(buf.toString('utf8').replace(/^\uFEFF/, ''))) as ScoreLine;
    // The index knows keys by 96 bits: the full key is checked before anything is copied from the line.
    return line.key === key ? line : undefined;
  }
  private lineGuess = 4096;

  /** Appends lines with a single write. */
  append(lines: ScoreLine[]): void {
    if (this.fd === undefined) throw new Error(`score store ${this.file} is closed`);
    if (!lines.length) return;
    const texts = lines.map((l) => JSON.stringify(this.tokens ? packScoreLine(l, this.tokens) : l) + '\n');
    const buf = Buffer.from(texts.join(''), 'utf8');
    this.writeAll(buf);
    let offset = this.size;
    for (let i = 0; i < lines.length; i++) {
      const len = Buffer.byteLength(texts[i], 'utf8');
      const l = lines[i];
      if (l.error === null && typeof l.logprob === 'number') this.remember(l, offset);
      offset += len;
    }
    this.size = offset;
  }

  /** Appends endpoint profiles or repeat lines, which resume ignores except to skip repeats already measured. */
  appendExtra(lines: ExtraLine[]): void {
    if (this.fd === undefined) throw new Error(`score store ${this.file} is closed`);
    if (!lines.length) return;
    const buf = Buffer.from(lines.map((l) => JSON.stringify(l) + '\n').join(''), 'utf8');
    this.writeAll(buf);
    this.size += buf.length;
    for (const l of lines) {
      if (l.kind === 'endpoint_profile') this.profiles.push(l);
      else this.repeated.add(repeatKey(l));
    }
  }

  hasRepeat(key: string, policy: string): boolean {
    return this.repeated.has(JSON.stringify([key, policy]));
  }

  private writeAll(buf: Buffer): void {
    try {
      for (let written = 0; written < buf.length; ) written += fs.writeSync(this.fd!, buf, written);
    } catch (e) {
      // A half-written last line is cut off by the next open, which scores its record again.
      throw new StoreWriteError(this.file, e as NodeJS.ErrnoException);
    }
  }

  close(): void {
    // Only our own lock: one taken over by another run after ours was judged stale stays.
    if (this.lockFile) {
      try {
        if (fs.readFileSync(this.lockFile, 'utf8') === this.lockText) fs.rmSync(this.lockFile, { force: true });
      } catch {
        /* gone already */
      }
    }
    this.lockFile = undefined;
    if (this.fd !== undefined) fs.closeSync(this.fd);
    if (this.readFd !== undefined) fs.closeSync(this.readFd);
    this.fd = undefined;
    this.readFd = undefined;
  }
}

/**
 * Whose coverage a result is: a policy's, and for a sampled response (id
 * RECORD#i, several items on one log line) that sample's, so that two samples
 * of one record with the same response each keep a line of their own.
 */
export function coverageName(policy: string, record: string): string {
  const s = parseSampleId(record);
  return s ? `${policy}\u0000${s.index}` : policy;
}

/** Default sidecar path: beside the log, `<log>.scores.jsonl`. */
export function defaultScoresPath(logFile: string): string {
  // x.jsonl, x.jsonl.gz and x.csv all score into x.scores.jsonl.
  return logFile.replace(/\.(?:jsonl?|csv)(?:\.gz)?$/i, '') + '.scores.jsonl';
}

const repeatKey = (l: Pick<RepeatLine, 'key' | 'policy'>) => JSON.stringify([l.key, l.policy]);
