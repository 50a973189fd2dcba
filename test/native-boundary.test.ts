// The addon checks everything that crosses the boundary itself, as better-sqlite3's C++ does: a caller
// that skips src/engine/options.ts gets a TypeError or RangeError naming the field, never a session that
// writes past its ring or spins at a period of 0. Nothing here starts a measuring thread.
import { describe, expect, it } from 'vitest';
import { loadAddon, type NativeSessionConfig, type NativeThreadConfig } from '../src/engine/native.js';

const thread: NativeThreadConfig = {
  cpu: 0,
  policy: 'other',
  priority: 0,
  periodNs: 1_000_000,
  runtimeNs: 0,
  deadlineNs: 0,
  ringCapacity: 1_024,
  blockSize: 0,
  testStallAfterCycles: 0,
  testStallNs: 0,
  startOffsetNs: 0,
};
const valid: NativeSessionConfig = {
  threads: [thread],
  clock: 'monotonic',
  loops: 1,
  loopsEndAll: false,
  durationNs: 0,
  alignment: 'none',
  lockMemory: false,
  requestDmaLatency: false,
  allowDegraded: true,
  breakThresholdNs: 0,
  traceOnBreak: false,
  recordIntervalNs: 0,
};

function construct(config: unknown) {
  const { NativeSession } = loadAddon();
  return new NativeSession(config as NativeSessionConfig);
}

const withThread = (change: Record<string, unknown>) => ({ ...valid, threads: [{ ...thread, ...change }] });
const without = (key: keyof NativeThreadConfig) => ({ ...valid, threads: [Object.fromEntries(Object.entries(thread).filter(([name]) => name !== key))] });

describe('new NativeSession(config) checks its config', () => {
  it('accepts a valid one', () => {
    const session = construct(valid);
    expect(session.stats()).toEqual([]);
    session.close();
  });

  const cases: [string, unknown, typeof TypeError | typeof RangeError, string][] = [
    ['no config', undefined, TypeError, 'config: expected an object, got undefined (missing)'],
    ['threads not an array', { ...valid, threads: 'all' }, TypeError, 'config.threads: expected an array of thread configurations, got "all"'],
    ['no threads', { ...valid, threads: [] }, RangeError, 'config.threads: expected from 1 to 4096 thread configurations, got 0'],
    ['a thread that is not an object', { ...valid, threads: [7] }, TypeError, 'config.threads[0]: expected an object, got 7'],
    ['ring capacity 0', withThread({ ringCapacity: 0 }), RangeError, 'config.threads[0].ringCapacity: expected a whole number from 1 to 1073741824, got 0'],
    ['ring capacity not a power of two', withThread({ ringCapacity: 1_000 }), RangeError, 'config.threads[0].ringCapacity: expected a power of two from 1 to 1073741824, got 1000'],
    ['ring capacity 2^31', withThread({ ringCapacity: 2 ** 31 }), RangeError, 'config.threads[0].ringCapacity: expected a whole number from 1 to 1073741824, got 2147483648'],
    ['unknown policy', withThread({ policy: 'batch' }), RangeError, 'config.threads[0].policy: expected one of "fifo", "rr", "other", "deadline", got "batch"'],
    ['policy not a string', withThread({ policy: 1 }), TypeError, 'config.threads[0].policy: expected one of "fifo", "rr", "other", "deadline", got 1'],
    ['unknown clock', { ...valid, clock: 'boottime' }, RangeError, 'config.clock: expected one of "monotonic", "realtime", got "boottime"'],
    ['period 0', withThread({ periodNs: 0 }), RangeError, 'config.threads[0].periodNs: expected a whole number from 1000 to 10000000000, got 0'],
    ['period a string', withThread({ periodNs: '1ms' }), TypeError, 'config.threads[0].periodNs: expected a whole number from 1000 to 10000000000, got "1ms"'],
    ['period not whole', withThread({ periodNs: 1_000.5 }), RangeError, 'config.threads[0].periodNs: expected a whole number from 1000 to 10000000000, got 1000.5'],
    ['period NaN', withThread({ periodNs: Number.NaN }), RangeError, 'config.threads[0].periodNs: expected a whole number from 1000 to 10000000000, got NaN'],
    ['CPU past CPU_SETSIZE', withThread({ cpu: 1_024 }), RangeError, 'config.threads[0].cpu: expected a whole number from -1 to 1023, got 1024'],
    ['priority above 99', withThread({ priority: 100 }), RangeError, 'config.threads[0].priority: expected a whole number from 0 to 99, got 100'],
    ['runtime longer than the period', withThread({ runtimeNs: 2_000_000 }), RangeError, 'config.threads[0].runtimeNs: expected a whole number from 0 to 1000000, got 2000000'],
    ['a negative block size', withThread({ blockSize: -1 }), RangeError, 'config.threads[0].blockSize: expected a whole number from 0 to 9007199254740991, got -1'],
    ['missing block size', without('blockSize'), TypeError, 'config.threads[0].blockSize: expected a whole number from 0 to 9007199254740991, got undefined (missing)'],
    ['negative stall', withThread({ testStallNs: -1 }), RangeError, 'config.threads[0].testStallNs: expected a whole number from 0 to 10000000000, got -1'],
    ['missing period', without('periodNs'), TypeError, 'config.threads[0].periodNs: expected a whole number from 1000 to 10000000000, got undefined (missing)'],
    ['missing ring capacity', without('ringCapacity'), TypeError, 'config.threads[0].ringCapacity: expected a whole number from 1 to 1073741824, got undefined (missing)'],
    ['negative loops', { ...valid, loops: -1 }, RangeError, 'config.loops: expected a whole number from 0 to 9007199254740991, got -1'],
    ['loops beyond 2^53', { ...valid, loops: 2 ** 60 }, RangeError, `config.loops: expected a whole number from 0 to 9007199254740991, got ${2 ** 60}`],
    ['a flag that is not a boolean', { ...valid, lockMemory: 'yes' }, TypeError, 'config.lockMemory: expected true or false, got "yes"'],
    ['a missing flag', { ...valid, allowDegraded: undefined }, TypeError, 'config.allowDegraded: expected true or false, got undefined (missing)'],
    ['loopsEndAll not a boolean', { ...valid, loopsEndAll: 1 }, TypeError, 'config.loopsEndAll: expected true or false, got 1'],
    ['an unknown alignment', { ...valid, alignment: 'minute' }, RangeError, 'config.alignment: expected one of "none", "together", "second", got "minute"'],
    ['a negative start offset', withThread({ startOffsetNs: -1 }), RangeError, 'config.threads[0].startOffsetNs: expected a whole number from 0 to 1000000000, got -1'],
    ['a negative record interval', { ...valid, recordIntervalNs: -1 }, RangeError, 'config.recordIntervalNs: expected a whole number from 0 to 60000000000, got -1'],
    ['a missing record interval', { ...valid, recordIntervalNs: undefined }, TypeError, 'config.recordIntervalNs: expected a whole number from 0 to 60000000000, got undefined (missing)'],
  ];
  for (const [name, config, type, message] of cases) {
    it(`refuses ${name}: ${type.name} naming the field`, () => {
      expect(() => construct(config)).toThrow(type);
      expect(() => construct(config)).toThrow(`rtlat: NativeSession: ${message}`);
    });
  }
});

describe('the other native calls check their arguments', () => {
  it('drain: the thread index and the buffer', () => {
    const session = construct({ ...valid, threads: [thread, { ...thread, cpu: -1 }] });
    try {
      session.start();
      const buffer = new Float64Array(3 * 16);
      expect(session.drain(1, buffer)).toBeGreaterThanOrEqual(0);
      expect(() => session.drain(2, buffer)).toThrow(new RangeError('rtlat: NativeSession: drain.threadIndex: expected a whole number from 0 to 1, got 2'));
      expect(() => session.drain(-1, buffer)).toThrow(RangeError);
      expect(() => session.drain('0' as never, buffer)).toThrow(new TypeError('rtlat: NativeSession: drain.threadIndex: expected a whole number from 0 to 1, got "0"'));
      expect(() => session.drain(0, new Float32Array(48) as never)).toThrow(new TypeError('rtlat: NativeSession: drain.into: expected a Float64Array, got an object'));
    } finally {
      session.close();
    }
    expect(() => session.drain(0, new Float64Array(3))).toThrow(/drain.threadIndex: expected the index of a thread, but the session has none/);
  });

  it('drainBlocks: the thread index and the buffer, as drain', () => {
    const session = construct({ ...valid, threads: [{ ...thread, blockSize: 1 }] });
    try {
      session.start();
      expect(session.drainBlocks(0, new Float64Array(2 * 16))).toBeGreaterThanOrEqual(0);
      expect(() => session.drainBlocks(1, new Float64Array(2))).toThrow(new RangeError('rtlat: NativeSession: drainBlocks.threadIndex: expected a whole number from 0 to 0, got 1'));
      expect(() => session.drainBlocks(0, [0, 0] as never)).toThrow(new TypeError('rtlat: NativeSession: drainBlocks.into: expected a Float64Array, got an array'));
    } finally {
      session.close();
    }
    expect(() => session.drainBlocks(0, new Float64Array(2))).toThrow(/drainBlocks.threadIndex: expected the index of a thread, but the session has none/);
  });

  it('takeHistogram: the thread index, and only where the session records; drain() is then refused (a ring has one consumer)', () => {
    const drained = construct(valid);
    const recording = construct({ ...valid, loops: 0, recordIntervalNs: 10_000_000 });
    try {
      drained.start();
      expect(() => drained.takeHistogram(0)).toThrow(/takeHistogram: this session does not record histograms \(recordIntervalNs 0\)/);
      recording.start();
      expect(recording.takeHistogram(0)).toBeInstanceOf(Uint8Array);
      expect(() => recording.takeHistogram(1)).toThrow(new RangeError('rtlat: NativeSession: takeHistogram.threadIndex: expected a whole number from 0 to 0, got 1'));
      expect(() => recording.drain(0, new Float64Array(3))).toThrow(/drain: this session records its samples itself \(recordIntervalNs\)/);
    } finally {
      drained.close();
      recording.close();
    }
    expect(() => recording.takeHistogram(0)).toThrow(/takeHistogram.threadIndex: expected the index of a thread, but the session has none/);
  });

  it('encodeHistogramForTest: a Float64Array of values within +-2^63', () => {
    const { encodeHistogramForTest } = loadAddon();
    expect(() => encodeHistogramForTest([1] as never)).toThrow(new TypeError('rtlat: NativeSession: encodeHistogramForTest.values: expected a Float64Array, got an array'));
    expect(() => encodeHistogramForTest(new Float64Array([Number.NaN]))).toThrow(RangeError);
    expect(() => encodeHistogramForTest(new Float64Array([2 ** 63]))).toThrow(RangeError);
  });

  it('pinThread: the thread id and CPUs', () => {
    const { pinThread } = loadAddon();
    expect(() => pinThread(0, [0])).toThrow(new RangeError('rtlat: NativeSession: pinThread.tid: expected a whole number from 1 to 4194304, got 0'));
    expect(() => pinThread(process.pid, 'all' as never)).toThrow(new TypeError('rtlat: NativeSession: pinThread.cpus: expected an array of CPU numbers, got "all"'));
    expect(() => pinThread(process.pid, [4_096])).toThrow(new RangeError('rtlat: NativeSession: pinThread.cpus.0: expected a whole number from 0 to 1023, got 4096'));
  });
});
