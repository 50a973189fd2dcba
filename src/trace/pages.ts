// Raw ring-buffer pages (trace_pipe_raw) into events. A page is a header (its first event's u64
// timestamp, then the commit word: the data's length and flags) and records, each a 32-bit header of
// a 5-bit type and a 27-bit time delta (events/header_page and events/header_event describe it).
import type { TraceEvent } from './events.js';

const DATA_OFFSET = 16;
const COMMIT_LENGTH_MASK = (1 << 27) - 1;
/** The kernel lost events between the previous page and this one (overwritten or dropped). */
const MISSED_EVENTS = 1 << 31;
/** ... and stored how many, in a long after the data. */
const MISSED_STORED = 1 << 30;
const TYPE_PADDING = 29;
const TYPE_TIME_EXTEND = 30;
const TYPE_TIME_STAMP = 31;
const TIME_SHIFT = 27;

/** Decodes the record at `start`, recorded at `ts` on `cpu` while `pid` was current. */
export type RecordDecoder = (page: Buffer, start: number, ts: number, cpu: number, pid: number) => TraceEvent;

export interface PageSummary {
  /** The page header's timestamp: when its first event was recorded. */
  startNs: number;
  /** Events the kernel lost just before this page: a count, or -1 when it lost some without counting. */
  missedBefore: number;
}

/**
 * Decodes the events of one page whose time lies within [fromNs, toNs] into `into`, oldest first;
 * events without a decoder are skipped. Returns the page's summary.
 */
export function decodePage(
  page: Buffer,
  cpu: number,
  decoders: ReadonlyMap<number, RecordDecoder>,
  fromNs: number,
  toNs: number,
  into: TraceEvent[],
): PageSummary {
  // Exact as a double up to 2^53 ns of uptime (104 days); a few ns off beyond, which nothing here resolves.
  let ts = Number(page.readBigUInt64LE(0));
  const startNs = ts;
  // The commit word's flags sit in its low 32 bits, with the data's length.
  const commit = page.readUInt32LE(8);
  const end = Math.min(page.length, DATA_OFFSET + (commit & COMMIT_LENGTH_MASK));
  let missedBefore = 0;
  if (commit & MISSED_EVENTS) missedBefore = commit & MISSED_STORED && end + 8 <= page.length ? Number(page.readBigUInt64LE(end)) : -1;
  let offset = DATA_OFFSET;
  while (offset + 4 <= end) {
    const header = page.readUInt32LE(offset);
    const type = header & 31;
    const delta = header >>> 5;
    if (type === TYPE_PADDING) {
      // A padding record with no delta fills the rest of the page.
      if (delta === 0 && offset + 8 > end) break;
      offset += 4 + page.readUInt32LE(offset + 4);
      continue;
    }
    if (type === TYPE_TIME_EXTEND || type === TYPE_TIME_STAMP) {
      const high = page.readUInt32LE(offset + 4) * 2 ** TIME_SHIFT + delta;
      // An absolute time stamp holds the low 59 bits of the time: all of it on a monotonic clock.
      ts = type === TYPE_TIME_EXTEND ? ts + high : high;
      offset += 8;
      continue;
    }
    let dataStart: number;
    let dataLength: number;
    if (type === 0) {
      // A long record: its length (which counts itself) in the next word.
      dataLength = page.readUInt32LE(offset + 4) - 4;
      dataStart = offset + 8;
    } else {
      dataLength = type * 4;
      dataStart = offset + 4;
    }
    ts += delta;
    if (dataStart + dataLength > end || dataLength < 8) break;
    if (ts > toNs) break;
    if (ts >= fromNs) {
      const decode = decoders.get(page.readUInt16LE(dataStart));
      if (decode) into.push(decode(page, dataStart, ts, cpu, page.readInt32LE(dataStart + 4)));
    }
    offset = dataStart + dataLength;
  }
  return { startNs, missedBefore };
}
