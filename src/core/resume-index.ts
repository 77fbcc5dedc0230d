import { createHash } from 'node:crypto';

/**
 * The scores file's resume index in typed arrays: a million records under four
 * policies are four million keys, which as a Map of 64-character strings with
 * a Map and a Set each took gigabytes. Here a key costs about 40 bytes.
 *
 * A key is known by 96 bits of its sha256 (score keys are sha256 hex already;
 * any other string is hashed first). Two distinct keys are taken for one only
 * if those 96 bits agree: among 10⁷ keys the chance of any such pair is about
 * n²/2⁹⁷ ≈ 6·10⁻¹⁶. Everything else is exact: coverage compares the log line
 * and the policy themselves, slots are found by linear probing (a shared start
 * slot is no collision), and ScoreStore.find() checks the full key of the line
 * it reads back before anything is copied from it.
 */

const CHUNK_BITS = 16;
const CHUNK = 1 << CHUNK_BITS;
type Typed = Uint32Array | Uint16Array | Float64Array;

/** A growable column in chunks of 65,536 entries: growing copies nothing and wastes at most one chunk. */
class Column<T extends Typed> {
  private readonly chunks: T[] = [];
  constructor(private readonly make: (n: number) => T) {}
  get(i: number): number {
    return this.chunks[i >>> CHUNK_BITS][i & (CHUNK - 1)];
  }
  set(i: number, v: number): void {
    const c = i >>> CHUNK_BITS;
    while (this.chunks.length <= c) this.chunks.push(this.make(CHUNK));
    this.chunks[c][i & (CHUNK - 1)] = v;
  }
}

/** Writes 96 bits identifying `key` into out[0..2]. */
export type KeyHash = (key: string, out: Uint32Array) => void;

const HEX64 = /^[0-9a-f]{64}$/;

export const keyHash96: KeyHash = (key, out) => {
  const hex = HEX64.test(key) ? key : createHash('sha256').update(key).digest('hex');
  out[0] = parseInt(hex.slice(0, 8), 16);
  out[1] = parseInt(hex.slice(8, 16), 16);
  out[2] = parseInt(hex.slice(16, 24), 16);
};

/** Policies below this id live in a key's bit masks; the rest (rare: 15 policies in one file) in the exact set. */
const MASK_POLICIES = 15;
const SUSPECT_BIT = 1 << 15;
const ANY_LINE = 0xffffffff;

/** An exact set of (key index, line, policy id) triples in one open-addressing table. */
class TripleSet {
  private table = new Uint32Array(3 * 64);
  private used = 0;

  private slot(t: Uint32Array, a: number, b: number, c: number): number {
    const cap = t.length / 3;
    let h = Math.imul(a ^ Math.imul(b, 0x9e3779b1) ^ Math.imul(c, 0x85ebca6b), 0xc2b2ae35) >>> 0;
    for (;;) {
      const i = (h & (cap - 1)) * 3;
      // Stored with +1 on the first word so that an all-zero triple means empty.
      if (t[i] === 0 || (t[i] === a + 1 && t[i + 1] === b && t[i + 2] === c)) return i;
      h++;
    }
  }

  has(a: number, b: number, c: number): boolean {
    return this.table[this.slot(this.table, a, b, c)] !== 0;
  }

  add(a: number, b: number, c: number): void {
    const i = this.slot(this.table, a, b, c);
    if (this.table[i] !== 0) return;
    this.table[i] = a + 1;
    this.table[i + 1] = b;
    this.table[i + 2] = c;
    if (++this.used * 2 > this.table.length / 3) this.grow();
  }

  private grow(): void {
    const old = this.table;
    const t = new Uint32Array(old.length * 2);
    for (let i = 0; i < old.length; i += 3) {
      if (old[i] === 0) continue;
      const j = this.slot(t, old[i] - 1, old[i + 1], old[i + 2]);
      t[j] = old[i];
      t[j + 1] = old[i + 1];
      t[j + 2] = old[i + 2];
    }
    this.table = t;
  }
}

export class ResumeIndex {
  private readonly fp = [new Column((n) => new Uint32Array(n)), new Column((n) => new Uint32Array(n)), new Column((n) => new Uint32Array(n))];
  // The offset in two words: scores files pass 4 GB (a float64 would do too, at two more bytes a key).
  private readonly offLo = new Column((n) => new Uint32Array(n));
  private readonly offHi = new Column((n) => new Uint16Array(n));
  private readonly logprob = new Column((n) => new Float64Array(n));
  /** The first log line the key was stored for, and the policies (bits) with a result there. */
  private readonly line = new Column((n) => new Uint32Array(n));
  private readonly lineMask = new Column((n) => new Uint16Array(n));
  /** Policies (bits) with a result for the key at any line; bit 15: kept as suspect. */
  private readonly hasMask = new Column((n) => new Uint16Array(n));
  /** Coverage that the masks do not hold: other lines of a key (duplicate records), policies past the 15th. */
  private readonly extra = new TripleSet();
  private readonly policyIds = new Map<string, number>();
  /** Open addressing: entry index + 1, 0 = empty. */
  private table = new Uint32Array(1024);
  private count = 0;
  private readonly h = new Uint32Array(3);

  constructor(private readonly hash: KeyHash = keyHash96) {}

  get size(): number {
    return this.count;
  }

  private slotOf(t: Uint32Array): number {
    const [a, b, c] = this.h;
    const mask = t.length - 1;
    for (let s = a & mask; ; s = (s + 1) & mask) {
      const e = t[s];
      if (e === 0) return s;
      const i = e - 1;
      if (this.fp[0].get(i) === a && this.fp[1].get(i) === b && this.fp[2].get(i) === c) return s;
    }
  }

  /** The entry of a key, or -1. */
  private find(key: string): number {
    this.hash(key, this.h);
    return this.table[this.slotOf(this.table)] - 1;
  }

  private pid(policy: string, add: boolean): number {
    let id = this.policyIds.get(policy);
    if (id === undefined && add) this.policyIds.set(policy, (id = this.policyIds.size));
    return id ?? -1;
  }

  /** Records a result for `key` at log line `line` under `policy`; the first result of a key keeps its offset and numbers. */
  add(key: string, line: number, policy: string, offset: number, logprob: number, suspect: boolean): void {
    const pid = this.pid(policy, true);
    this.hash(key, this.h);
    const s = this.slotOf(this.table);
    let i = this.table[s] - 1;
    if (i < 0) {
      i = this.count++;
      this.table[s] = i + 1;
      for (let w = 0; w < 3; w++) this.fp[w].set(i, this.h[w]);
      this.offLo.set(i, offset % 2 ** 32);
      this.offHi.set(i, Math.floor(offset / 2 ** 32));
      this.logprob.set(i, logprob);
      this.line.set(i, line);
      this.lineMask.set(i, 0);
      this.hasMask.set(i, suspect ? SUSPECT_BIT : 0);
      if (this.count * 2 > this.table.length) this.grow();
    }
    if (pid < MASK_POLICIES) {
      this.hasMask.set(i, this.hasMask.get(i) | (1 << pid));
      if (this.line.get(i) === line) this.lineMask.set(i, this.lineMask.get(i) | (1 << pid));
      else this.extra.add(i, line, pid);
    } else {
      this.extra.add(i, line, pid);
      this.extra.add(i, ANY_LINE, pid);
    }
  }

  private grow(): void {
    const t = new Uint32Array(this.table.length * 2);
    for (let i = 0; i < this.count; i++) {
      for (let w = 0; w < 3; w++) this.h[w] = this.fp[w].get(i);
      t[this.slotOf(t)] = i + 1;
    }
    this.table = t;
  }

  covers(key: string, line: number, policy: string): boolean {
    const i = this.find(key);
    const pid = this.pid(policy, false);
    if (i < 0 || pid < 0) return false;
    if (pid < MASK_POLICIES && this.line.get(i) === line) return (this.lineMask.get(i) & (1 << pid)) !== 0;
    return this.extra.has(i, line, pid);
  }

  has(key: string, policy: string): boolean {
    const i = this.find(key);
    const pid = this.pid(policy, false);
    if (i < 0 || pid < 0) return false;
    return pid < MASK_POLICIES ? (this.hasMask.get(i) & (1 << pid)) !== 0 : this.extra.has(i, ANY_LINE, pid);
  }

  /** The numbers of a key's first result: where its line starts, its log-prob, whether it was kept as suspect. */
  get(key: string): { offset: number; logprob: number; suspect: boolean } | undefined {
    const i = this.find(key);
    if (i < 0) return undefined;
    return { offset: this.offHi.get(i) * 2 ** 32 + this.offLo.get(i), logprob: this.logprob.get(i), suspect: (this.hasMask.get(i) & SUSPECT_BIT) !== 0 };
  }
}
