// A growable typed array with a fill value: one number per record in a
// few bytes, where a JS array of numbers and nulls costs 8 to 24 bytes an
// element and an object per record far more. The report keeps its per-record
// numbers in these so that a million records cost megabytes, not gigabytes.

type Typed = Float64Array | Float32Array | Int32Array | Uint32Array | Uint8Array;
type Ctor<T extends Typed> = { new (n: number): T };

/** Elements a chunk: growing adds a chunk, never copies (a copy leaves the old buffer to the GC, twice the memory for a moment). */
const CHUNK = 1 << 16;

export class TypedColumn<T extends Typed> {
  private readonly chunks: (T | undefined)[] = [];
  /** One past the highest index set to a value other than the fill. */
  length = 0;

  constructor(private readonly ctor: Ctor<T>, readonly fill: number) {}

  get(i: number): number {
    const c = this.chunks[i >>> 16];
    return c === undefined ? this.fill : c[i & (CHUNK - 1)];
  }

  set(i: number, v: number): void {
    const k = i >>> 16;
    let c = this.chunks[k];
    if (c === undefined) {
      // A column that only ever holds its fill value (no suspect score, no entropy) allocates nothing.
      if (v === this.fill || (v !== v && this.fill !== this.fill)) return;
      c = new this.ctor(CHUNK);
      if (this.fill !== 0) c.fill(this.fill);
      this.chunks[k] = c;
    }
    c[i & (CHUNK - 1)] = v;
    if (i >= this.length) this.length = i + 1;
  }

  /** The first n values as one typed array (the fill value where nothing was set). */
  take(n: number): T {
    const out = new this.ctor(n);
    if (this.fill !== 0) out.fill(this.fill);
    for (let k = 0; k * CHUNK < n; k++) {
      const c = this.chunks[k];
      if (c) out.set(c.subarray(0, Math.min(CHUNK, n - k * CHUNK)) as never, k * CHUNK);
    }
    return out;
  }
}

export const f64Column = (fill = NaN) => new TypedColumn(Float64Array, fill);
export const i32Column = (fill = -1) => new TypedColumn(Int32Array, fill);
export const u8Column = () => new TypedColumn(Uint8Array, 0);
export const u32Column = () => new TypedColumn(Uint32Array, 0);

/**
 * Row by log line: a typed array indexed by line for the lines a log can have,
 * a Map for the odd huge or fractional number a hand-edited scores file may hold.
 */
export class LineIndex {
  private readonly dense = i32Column(-1);
  private readonly sparse = new Map<number, number>();
  private static readonly DENSE_MAX = 1 << 24;

  get(line: number): number | undefined {
    if (Number.isInteger(line) && line >= 0 && line < LineIndex.DENSE_MAX) {
      const r = this.dense.get(line);
      return r < 0 ? undefined : r;
    }
    return this.sparse.get(line);
  }

  set(line: number, row: number): void {
    if (Number.isInteger(line) && line >= 0 && line < LineIndex.DENSE_MAX) this.dense.set(line, row);
    else this.sparse.set(line, row);
  }
}
