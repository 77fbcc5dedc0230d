import * as assert from 'assert';
import { kishEss } from '../../src/core/diagnostics/weights';

function close(actual: number, expected: number, tol: number, msg?: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `${msg ?? ''} expected ${expected} ± ${tol}, got ${actual}`,
  );
}

describe('diagnostics: kishEss', () => {
  it('ESS of weights [1,2,3,4] by hand: (10)^2 / 30 = 3.3333', () => {
    // Σw = 1+2+3+4 = 10; Σw² = 1+4+9+16 = 30; ESS = 100/30 = 10/3.
    const r = kishEss([1, 2, 3, 4].map(Math.log));
    close(r.ess, 10 / 3, 1e-12);
    close(r.fraction, 10 / 12, 1e-12);
    assert.strictEqual(r.n, 4);
  });
});
