// Chunked typed columns (the report's per-record numbers): values across chunk
// boundaries, the fill value where nothing was set, take(n), and a line index
// for dense and odd line numbers; expected values from a plain Map written here.
import * as assert from 'node:assert/strict';
import { f64Column, i32Column, LineIndex } from '../../src/core/typed-column';
import { mulberry32 } from '../../src/core/diagnostics/estimates';

describe('typed columns', () => {
  it('holds what was set across chunks, the fill elsewhere, and takes the first n', () => {
    const rnd = mulberry32(4);
    const f = f64Column();
    const i = i32Column(-1);
    const ref = new Map<number, number>();
    for (let k = 0; k < 5000; k++) {
      const at = Math.floor(rnd() * 300_000);
      const v = Math.round(rnd() * 1000) - 500;
      f.set(at, v);
      i.set(at, v);
      ref.set(at, v);
    }
    // Setting the fill where nothing was is a no-op; over a value it clears it.
    f.set(400_000, NaN);
    i.set(400_001, -1);
    const [first] = ref.keys();
    f.set(first, NaN);
    i.set(first, -1);
    ref.delete(first);
    for (let at = 0; at < 300_000; at += 7) {
      const want = ref.get(at);
      assert.ok(want === undefined ? Number.isNaN(f.get(at)) : f.get(at) === want, `f64 at ${at}`);
      assert.equal(i.get(at), want ?? -1, `i32 at ${at}`);
    }
    const t = i.take(200_000);
    assert.equal(t.length, 200_000);
    for (const [at, v] of ref) if (at < 200_000) assert.equal(t[at], v);
    assert.equal(t.filter((x) => x !== -1).length, [...ref.keys()].filter((k) => k < 200_000 && ref.get(k) !== -1).length);
    const tf = f.take(300_000);
    for (let at = 0; at < 300_000; at += 11) assert.ok(ref.has(at) ? tf[at] === ref.get(at) : Number.isNaN(tf[at]), `take at ${at}`);
  });

  it('a line index for dense lines and for huge or fractional ones', () => {
    const ix = new LineIndex();
    ix.set(1, 0);
    ix.set(70_000, 1);
    ix.set(2 ** 40, 2);
    ix.set(1.5, 3);
    assert.deepEqual([ix.get(1), ix.get(70_000), ix.get(2 ** 40), ix.get(1.5), ix.get(2), ix.get(-3)], [0, 1, 2, 3, undefined, undefined]);
  });
});
