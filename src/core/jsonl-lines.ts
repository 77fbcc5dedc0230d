import * as fs from 'node:fs';

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
}

export const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;

/**
 * Streams the lines of a file without ever holding more than one line, and
 * never more than `maxLineBytes` of a line: a longer line is counted and
 * skipped as it streams, so a huge line cannot exhaust memory.
 * Handles LF and CRLF endings and a UTF-8 BOM on the first line.
 */
export async function* readLines(
  file: string,
  opts: { maxLineBytes?: number; start?: number } = {},
): AsyncGenerator<RawLine> {
  const max = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const stream = fs.createReadStream(file, { start: opts.start ?? 0, highWaterMark: 1 << 16 });
  let parts: Buffer[] = [];
  let kept = 0; // bytes kept in parts
  let total = 0; // bytes of the current line, kept or not
  let overflow = false;
  let lineNo = 0;
  let lineStart = opts.start ?? 0;
  let pos = lineStart;

  const finish = (unterminated: boolean): RawLine => {
    lineNo++;
    let text: string | undefined;
    if (!overflow) {
      let buf = parts.length === 1 ? parts[0] : Buffer.concat(parts, kept);
      if (buf.length > 0 && buf[buf.length - 1] === 0x0d) buf = buf.subarray(0, buf.length - 1);
      if (lineNo === 1 && lineStart === 0 && buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) {
        buf = buf.subarray(3);
      }
      text = buf.toString('utf8');
    }
    const out: RawLine = { line: lineNo, text, bytes: total, unterminated, offset: lineStart };
    parts = [];
    kept = 0;
    total = 0;
    overflow = false;
    return out;
  };

  for await (const chunk of stream as AsyncIterable<Buffer>) {
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
      pos += piece.length;
      if (nl === -1) break;
      pos += 1;
      yield finish(false);
      lineStart = pos;
      from = nl + 1;
    }
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
