// Writes media/icon.png, the extension's Marketplace icon (256×256 RGBA), from
// the same drawing as media/cje.svg: three bars (two blue, one orange: the
// Okabe–Ito colours, readable with colour-blindness) on a light rounded
// square, so it reads on the Marketplace's light and dark pages alike. The
// Marketplace takes no SVG icon; a drawing this simple needs no browser, so
// the PNG is encoded here with node:zlib (deterministic bytes: rerunning it
// changes nothing in git).
// Usage: node scripts/make-icon.mjs
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const N = 256;
const S = N / 16; // media/cje.svg's viewBox is 16×16
const hex = (h) => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
const BG = hex('#f5f7fa');
// The bars of media/cje.svg, in its units, on a 1-unit margin inside the rounded square.
const BARS = [
  { x: 1, y: 9, w: 3, h: 6, c: hex('#0072b2') },
  { x: 6, y: 5, w: 3, h: 10, c: hex('#0072b2') },
  { x: 11, y: 1, w: 3, h: 14, c: hex('#e69f00') },
];
const RADIUS = 40;

/** Coverage (0..1) of the rounded square at pixel (px, py), by 4×4 supersampling for smooth corners. */
function squareCoverage(px, py) {
  let hit = 0;
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      const x = px + (i + 0.5) / 4;
      const y = py + (j + 0.5) / 4;
      const cx = Math.min(Math.max(x, RADIUS), N - RADIUS);
      const cy = Math.min(Math.max(y, RADIUS), N - RADIUS);
      if ((x - cx) ** 2 + (y - cy) ** 2 <= RADIUS ** 2) hit++;
    }
  }
  return hit / 16;
}

// The bars drawn at 80% size around the centre, so they keep clear of the corners.
const scale = 0.8;
const off = (N - 16 * S * scale) / 2;
const raw = Buffer.alloc(N * (1 + 4 * N));
for (let y = 0; y < N; y++) {
  const row = y * (1 + 4 * N);
  raw[row] = 0; // filter: none
  for (let x = 0; x < N; x++) {
    let c = BG;
    const ux = (x + 0.5 - off) / (S * scale);
    const uy = (y + 0.5 - off) / (S * scale);
    for (const b of BARS) if (ux >= b.x && ux < b.x + b.w && uy >= b.y && uy < b.y + b.h) c = b.c;
    const a = Math.round(255 * squareCoverage(x, y));
    raw.set([c[0], c[1], c[2], a], row + 1 + 4 * x);
  }
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (buf) => {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type, data) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
};
const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(N, 0);
ihdr.writeUInt32BE(N, 4);
ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA, deflate, no filter, no interlace
const png = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  chunk('IHDR', ihdr),
  chunk('IDAT', deflateSync(raw, { level: 9 })),
  chunk('IEND', Buffer.alloc(0)),
]);
const out = path.join(root, 'media', 'icon.png');
fs.writeFileSync(out, png);
console.log(`wrote ${path.relative(root, out)} (${N}×${N}, ${png.length} bytes)`);
