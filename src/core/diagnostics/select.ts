/**
 * In-place order-statistic selection on typed arrays (Floyd–Rivest), so the
 * largest few values of a million weights can be had in O(n) instead of a
 * full O(n log n) sort. Inputs must not contain NaN.
 */

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/**
 * Rearranges a[left..right] so that a[k] holds the value it would have if that
 * range were sorted ascending, everything in [left, k) is ≤ a[k] and
 * everything in (k, right] is ≥ a[k].
 */
export function selectInPlace(a: Float64Array, k: number, left = 0, right = a.length - 1): void {
  if (k < left || k > right) throw new RangeError(`select: k=${k} outside [${left}, ${right}]`);
  while (right > left) {
    if (right - left > 600) {
      // Floyd–Rivest: recurse on a small sample to pick a good pivot range.
      const n = right - left + 1;
      const m = k - left + 1;
      const z = Math.log(n);
      const s = 0.5 * Math.exp((2 * z) / 3);
      const sd = 0.5 * Math.sqrt((z * s * (n - s)) / n) * (m - n / 2 < 0 ? -1 : 1);
      const l2 = Math.max(left, Math.floor(k - (m * s) / n + sd));
      const r2 = Math.min(right, Math.floor(k + ((n - m) * s) / n + sd));
      selectInPlace(a, k, l2, r2);
    }
    const pivot = a[k];
    let i = left;
    let j = right;
    swap(a, left, k);
    if (a[right] > pivot) swap(a, left, right);
    while (i < j) {
      swap(a, i, j);
      i++;
      j--;
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
    }
    if (a[left] === pivot) {
      swap(a, left, j);
    } else {
      j++;
      swap(a, j, right);
    }
    if (j <= k) left = j + 1;
    if (k <= j) right = j - 1;
  }
}

/**
 * The `count` largest values of `values`, sorted ascending, as a new array.
 * Copies the input once, selects, then sorts only the top block.
 */
export function largestSorted(values: ArrayLike<number>, count: number): Float64Array {
  const n = values.length;
  const c = Math.max(0, Math.min(count, n));
  if (c === 0) return new Float64Array(0);
  const buf = values instanceof Float64Array ? values.slice() : Float64Array.from(values);
  if (c < n) selectInPlace(buf, n - c);
  const top = buf.slice(n - c);
  top.sort();
  return top;
}
