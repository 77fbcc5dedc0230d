// murmur3's 32-bit finaliser in BigInt arithmetic: a second implementation for
// tests of code that computes it with Math.imul (src/core/fmix32.ts).
export function fmix32Big(x: bigint): number {
  const M = 0xffffffffn;
  let h = x & M;
  h ^= h >> 16n;
  h = (h * 0x85ebca6bn) & M;
  h ^= h >> 13n;
  h = (h * 0xc2b2ae35n) & M;
  h ^= h >> 16n;
  return Number(h);
}
