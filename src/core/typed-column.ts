// A growable typed array with a fill value: one number per record in a
// few bytes, where a JS array of numbers and nulls costs 8 to 24 bytes an
// element and an object per record far more. The report keeps its per-record
// numbers in these so that a million records cost megabytes, not gigabytes.

type Typed = Float64Array | Float32Array | Int32Array | Uint32Array | Uint8Array;
type Ctor<T extends Typed> = { new (n: number): T };

export class TypedColumn<T extends Typed> {
  private a: T;
  /** One past the highest index set. */
  length = 0;

  constructor(private readonly ctor: Ctor<T>, readonly fill: number, capacity = 1024) {
    this.a = new ctor(capacity);
    if (fill !== 0) this.a.fill(fill);
  }

  get(i: number): number {
    return i < this.length ? this.a[i] : this.fill;
  }

  set(i: number, v: number): void {
    if (i >= this.a.length) {
      let cap = this.a.length * 2;
      while (cap <= i) cap *= 2;
      const b = new this.ctor(cap);
      b.set(this.a);
      if (this.fill !== 0) b.fill(this.fill, this.a.length);
      this.a = b;
    }
    if (i >= this.length) this.length = i + 1;
    this.a[i] = v;
  }

  /** The first n values as a typed array of exactly n (a copy; the fill value past what was set). */
  take(n: number): T {
    const out = new this.ctor(n);
    out.set(this.a.subarray(0, Math.min(n, this.a.length)) as never);
    if (this.fill !== 0 && n > this.length) out.fill(this.fill, this.length);
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
