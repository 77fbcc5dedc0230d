import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { isUtf8 } from 'node:buffer';

/** One physical line of a JSONL file. */
export interface RawLine {
  /** 1-based line number. */
  line: number;
  /** The text without its line ending; undefined when the line was too long to keep. */
  text?: string;
  /** Length of the line in bytes up to its LF, LF excluded; a CR before the LF and a BOM are counted, so offset + bytes + 1 is where the next line starts. */
  bytes: number;
  /** True for a last line with no newline after it (possibly half-written). */
  unterminated: boolean;
  /** Byte offset of the line's start in the file. */
  offset: number;
  /** Set when the kept bytes are not valid UTF-8: the 0-based byte index of the first bad sequence (text then holds U+FFFD there). */
  badUtf8At?: number;
}

export const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;

/** How much of a file is looked at to tell text from compressed or binary data. */
export const SNIFF_BYTES = 64 * 1024;

/**
 * Thrown by readLines when the input cannot be a JSONL text file (compressed,
 * UTF-16, binary) or a line never ends. The message names the file and says
 * what it looks like; `line` is where reading stopped (0: before any line).
 */
export class NotJsonlError extends Error {
  constructor(readonly file: string, readonly line: number, readonly what: string) {
    super(`${file}${line ? `:${line}` : ''}: ${what}`);
    this.name = 'NotJsonlError';
  }
}

const MAGIC: { bytes: number[]; what: string }[] = [
  { bytes: [0x1f, 0x8b], what: 'this is gzip-compressed data, not JSONL text (decompress it first: gunzip -k FILE; or name it FILE.jsonl.gz, which cje reads compressed)' },
  { bytes: [0x50, 0x41, 0x52, 0x31], what: 'this is a Parquet file, not JSONL text (write it out as JSONL or CSV first, e.g. pandas.read_parquet(FILE).to_json(OUT, orient="records", lines=True))' },
  { bytes: [0x28, 0xb5, 0x2f, 0xfd], what: 'this is zstd-compressed data, not JSONL text (decompress it first: zstd -d FILE)' },
  { bytes: [0x42, 0x5a, 0x68], what: 'this is bzip2-compressed data, not JSONL text (decompress it first: bunzip2 -k FILE)' },
  { bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], what: 'this is xz-compressed data, not JSONL text (decompress it first: unxz -k FILE)' },
  { bytes: [0x50, 0x4b, 0x03, 0x04], what: 'this is a zip archive, not JSONL text (extract the .jsonl file from it first)' },
  { bytes: [0xff, 0xfe], what: 'this is UTF-16 (little-endian) text, not UTF-8 JSONL (convert it: iconv -f UTF-16 -t UTF-8 FILE)' },
  { bytes: [0xfe, 0xff], what: 'this is UTF-16 (big-endian) text, not UTF-8 JSONL (convert it: iconv -f UTF-16 -t UTF-8 FILE)' },
];

/**
 * What the first bytes of a file say it is, when that is not UTF-8 JSONL text;
 * undefined for text. `atStart`: the sample begins at byte 0 of the file (magic
 * numbers and byte-order marks only mean something there). `whole`: the sample is
 * the whole file (a cut multi-byte character at its end is then an error).
 */
export function sniffNotText(sample: Buffer, atStart = true, whole = false): string | undefined {
  if (sample.length === 0) return undefined;
  if (atStart) {
    for (const m of MAGIC) if (sample.length >= m.bytes.length && m.bytes.every((b, i) => sample[i] === b)) return m.what;
  }
  let nul = 0;
  let nulEven = 0;
  let controls = 0;
  let lf = 0;
  let crBeforeRecord = 0;
  for (let i = 0; i < sample.length; i++) {
    const b = sample[i];
    if (b === 0) {
      nul++;
      if (i % 2 === 0) nulEven++;
    } else if (b === 0x0a) lf++;
    else if (b === 0x0d) {
      if (i + 1 < sample.length && (sample[i + 1] === 0x7b || sample[i + 1] === 0x5b)) crBeforeRecord++;
    } else if (b < 0x20 && b !== 0x09 && b !== 0x0c) controls++;
  }
  // ASCII text in UTF-16 is every other byte NUL, on the same side.
  if (sample.length >= 4 && nul >= sample.length / 4) {
    const side = nulEven / nul;
    if (side > 0.9) return 'this looks like UTF-16 (big-endian) text without a byte-order mark, not UTF-8 JSONL (convert it: iconv -f UTF-16BE -t UTF-8 FILE)';
    if (side < 0.1) return 'this looks like UTF-16 (little-endian) text without a byte-order mark, not UTF-8 JSONL (convert it: iconv -f UTF-16LE -t UTF-8 FILE)';
  }
  if (nul === sample.length) return `this is binary data (the first ${sizeText(sample.length)} are all NUL bytes), not JSONL text`;
  // JSON text holds no raw NUL or other C0 control bytes (tab, LF, CR and form feed aside), and a
  // UTF-8 file decodes: a few such bytes are bad lines, reported one by one; many are not text at all.
  const bad = nul + controls + (atStart || whole ? invalidUtf8Count(sample, whole) : invalidUtf8Count(sample.subarray(4), whole));
  if (sample.length >= 64 && bad > sample.length * 0.05) {
    return `this is binary data, not JSONL text (${bad} of its first ${sizeText(sample.length)} are NUL or control bytes or not valid UTF-8)`;
  }
  if (lf === 0 && crBeforeRecord > 0) return 'this file has CR-only line endings (classic Mac), not LF: convert them (e.g. tr "\\r" "\\n")';
  return undefined;
}

/** Invalid UTF-8 sequences in `buf`; an incomplete character cut off at the end is not counted unless `whole`. */
function invalidUtf8Count(buf: Buffer, whole: boolean): number {
  if (isUtf8(buf)) return 0;
  let end = buf.length;
  if (!whole) {
    // Back over at most 3 continuation bytes to a lead byte whose character the sample cut.
    for (let k = 1; k <= 4 && end - k >= 0; k++) {
      const b = buf[end - k];
      if ((b & 0xc0) === 0x80) continue;
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      if (need > k) end -= k;
      break;
    }
  }
  const text = buf.subarray(0, end).toString('utf8');
  let n = 0;
  for (let i = text.indexOf('\uFFFD'); i !== -1; i = text.indexOf('\uFFFD', i + 1)) n++;
  // A literal U+FFFD (EF BF BD) in the file is valid text.
  for (let i = buf.indexOf(REPLACEMENT); i !== -1 && i < end; i = buf.indexOf(REPLACEMENT, i + 3)) n--;
  return Math.max(n, 0);
}

const REPLACEMENT = Buffer.from([0xef, 0xbf, 0xbd]);

/** 0-based byte index of the first invalid UTF-8 sequence (overlong, surrogate, out of range, cut), or -1. */
export function firstBadUtf8(buf: Buffer): number {
  if (isUtf8(buf)) return -1;
  for (let i = 0; i < buf.length; ) {
    const b = buf[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    const n = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (n === 0 || i + n > buf.length) return i;
    // The second byte's range excludes overlong forms, UTF-16 surrogates (ED A0-BF) and code points above U+10FFFF.
    const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
    if (buf[i + 1] < lo || buf[i + 1] > hi) return i;
    for (let k = 2; k < n; k++) if ((buf[i + k] & 0xc0) !== 0x80) return i;
    i += n;
  }
  return -1;
}

function sizeText(bytes: number): string {
  if (bytes >= 1048576) return `${+(bytes / 1048576).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${+(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}

/**
 * Streams the lines of a file without ever holding more than one line, and
 * never more than `maxLineBytes` of a line: a longer line is counted and
 * skipped as it streams, so a huge line cannot exhaust memory.
 * Handles LF and CRLF endings and a UTF-8 BOM on the first line.
 *
 * Throws NotJsonlError before the first line when the first 64 KiB are not
 * UTF-8 text (compressed, UTF-16, binary: see sniffNotText), and when one line
 * runs past `maxRunBytes` (default the larger of 1 GiB and 4 × maxLineBytes)
 * without a newline: a device or pipe like /dev/zero never ends, and no log
 * record is that long.
 */
export async function* readLines(
  file: string,
  opts: { maxLineBytes?: number; start?: number; maxRunBytes?: number; gzip?: boolean } = {},
): AsyncGenerator<RawLine> {
  const max = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const maxRun = opts.maxRunBytes ?? Math.max(1024 * 1024 * 1024, 4 * max);
  const start = opts.gzip ? 0 : (opts.start ?? 0);
  const fileStream = fs.createReadStream(file, { start, highWaterMark: SNIFF_BYTES });
  // A .gz file is decompressed as it streams: lines, offsets and the text checks are those of the decompressed bytes.
  const stream = opts.gzip ? fileStream.pipe(zlib.createGunzip({ chunkSize: SNIFF_BYTES })) : fileStream;
  if (opts.gzip) fileStream.on('error', (e) => stream.destroy(e));
  let parts: Buffer[] = [];
  let kept = 0; // bytes kept in parts
  let total = 0; // bytes of the current line, kept or not
  let overflow = false;
  let lineNo = 0;
  let lineStart = start;
  let pos = lineStart;
  let sniffed = false;

  const finish = (unterminated: boolean): RawLine => {
    lineNo++;
    let text: string | undefined;
    let badUtf8At: number | undefined;
    if (!overflow) {
      let buf = parts.length === 1 ? parts[0] : Buffer.concat(parts, kept);
      if (buf.length > 0 && buf[buf.length - 1] === 0x0d) buf = buf.subarray(0, buf.length - 1);
      if (lineNo === 1 && lineStart === 0 && buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) {
        buf = buf.subarray(3);
      }
      const bad = firstBadUtf8(buf);
      if (bad !== -1) badUtf8At = bad;
      text = buf.toString('utf8');
    }
    const out: RawLine = { line: lineNo, text, bytes: total, unterminated, offset: lineStart };
    if (badUtf8At !== undefined) out.badUtf8At = badUtf8At;
    parts = [];
    kept = 0;
    total = 0;
    overflow = false;
    return out;
  };

  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (!sniffed && opts.gzip) {
        sniffed = true;
        const what = sniffNotText(chunk, true, chunk.length < SNIFF_BYTES);
        if (what) throw new NotJsonlError(file, 0, `decompressed, ${what.replace(/^this is/, 'it is').replace(/^this/, 'it')}`);
      }
      if (!sniffed) {
        sniffed = true;
        const what = sniffNotText(chunk, start === 0, chunk.length < SNIFF_BYTES);
        if (what) throw new NotJsonlError(file, 0, what);
      }
      let from = 0;
      while (from < chunk.length) {
        const nl = chunk.indexOf(0x0a, from);
        const end = nl === -1 ? chunk.length : nl;
        const piece = chunk.subarray(from, end);
        total += piece.length;
        if (!overflow) {
          if (kept + piece.length > max) {
            overflow = true;
            parts = [];
            kept = 0;
          } else if (piece.length > 0) {
            // Copy: the stream may reuse its chunk buffers.
            parts.push(Buffer.from(piece));
            kept += piece.length;
          }
        }
        if (total > maxRun) {
          throw new NotJsonlError(file, lineNo + 1, `line ${lineNo + 1} runs past ${sizeText(maxRun)} without a newline: stopped reading (this is not a JSONL log; a device such as /dev/zero never ends)`);
        }
        pos += piece.length;
        if (nl === -1) break;
        pos += 1;
        yield finish(false);
        lineStart = pos;
        from = nl + 1;
      }
    }
  } catch (e) {
    if (opts.gzip && !(e instanceof NotJsonlError) && typeof (e as NodeJS.ErrnoException).code === 'string' && (e as NodeJS.ErrnoException).code!.startsWith('Z_')) {
      throw new NotJsonlError(file, lineNo + 1, `the gzip data is damaged or cut short after line ${lineNo} (${(e as Error).message}): the lines before it were read`);
    }
    throw e;
  } finally {
    stream.destroy();
    fileStream.destroy();
  }
  if (total > 0 || parts.length > 0) yield finish(true);
}

/**
 * The lines of text already in memory (an editor's unsaved buffer), with the
 * same numbers, byte counts and limits as readLines gives for the same bytes
 * on disk.
 */
export function* textLines(text: string, opts: { maxLineBytes?: number } = {}): Generator<RawLine> {
  const max = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  let offset = 0;
  let lineNo = 0;
  for (let from = 0; from < text.length; ) {
    const nl = text.indexOf('\n', from);
    const end = nl === -1 ? text.length : nl;
    let raw = text.slice(from, end);
    const bytes = Buffer.byteLength(raw, 'utf8');
    lineNo++;
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    if (lineNo === 1 && raw.startsWith('\uFEFF')) raw = raw.slice(1);
    yield { line: lineNo, text: bytes > max ? undefined : raw, bytes, unterminated: nl === -1, offset };
    offset += bytes + 1;
    if (nl === -1) break;
    from = nl + 1;
  }
}
