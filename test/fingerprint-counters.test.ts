// Per-CPU counters around a run: exact differences from fixture snapshots, and sane ones from this machine.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseInterrupts, parseProcStat, parseSchedStat } from '../src/fingerprint/counters.js';
import { diffCpuCounters, readCpuCounters, USER_HZ } from '../src/fingerprint/index.js';
import { parseCpuList } from '../src/units.js';
import { fixture } from './helpers/fingerprint.js';

describe('counters from two fixture snapshots', () => {
  const before = readCpuCounters([0, 1, 2, 3], { root: fixture('counters-before') });
  const after = readCpuCounters([0, 1, 2, 3], { root: fixture('counters-after') });
  const delta = diffCpuCounters(before, after);

  it('reads absolute values in ns and counts', () => {
    expect(USER_HZ).toBe(100);
    expect(before.perCpu[0]).toEqual({ stealNs: 100 * 10_000_000, interrupts: 10 + 0 + 1000 + 5 + 100_000 + 300, runQueueWaitNs: 4_000_000, scheduleCalls: 50_000 });
    expect(before.systemContextSwitches).toBe(500_000);
    expect(before.unavailable).toEqual({});
  });

  it('gives exactly what happened on each CPU', () => {
    expect(delta.perCpu[0]).toEqual({ stealNs: 12 * 10_000_000, interrupts: 100 + 250 + 10, runQueueWaitNs: 120_000, scheduleCalls: 600 });
    expect(delta.perCpu[1]).toEqual({ stealNs: 0, interrupts: 100, runQueueWaitNs: 0, scheduleCalls: 10 });
    expect(delta.perCpu[2]).toEqual({ stealNs: 18 * 10_000_000, interrupts: 1 + 4, runQueueWaitNs: 250, scheduleCalls: 3 });
    expect(delta.systemContextSwitches).toBe(1_234);
  });

  it('keeps a key for a requested CPU it has nothing on, with nulls', () => {
    expect(delta.perCpu[3]).toEqual({ stealNs: null, interrupts: null, runQueueWaitNs: null, scheduleCalls: null });
    expect(Object.keys(delta.perCpu)).toEqual(['0', '1', '2', '3']);
  });

  it('gives null, not a negative count, when a counter went backwards', () => {
    const reversed = diffCpuCounters(after, before);
    expect(reversed.perCpu[0]!.interrupts).toBeNull();
    expect(reversed.perCpu[1]!.stealNs).toBe(0);
  });
});

describe('counter parsers', () => {
  it('skips the system-wide ERR and MIS rows of /proc/interrupts', () => {
    const single = '           CPU0\n  0:  5  IO-APIC  timer\nERR:  7\nMIS:  1\n';
    expect([...parseInterrupts(single)]).toEqual([[0, 5]]);
  });

  it('maps /proc/interrupts columns to the CPUs the header names (offline CPUs have none)', () => {
    const sparse = '       CPU0       CPU2\n  1:  3  4  IO-APIC  i8042\nLOC:  10  20  Local timer interrupts\n';
    expect([...parseInterrupts(sparse)]).toEqual([[0, 13], [2, 24]]);
  });

  it('reads steal and ctxt from /proc/stat', () => {
    const stat = parseProcStat('cpu  1 2 3 4 5 6 7 8 0 0\ncpu5 1 2 3 4 5 6 7 9 0 0\nctxt 42\n');
    expect([...stat.stealTicks]).toEqual([[5, 9]]);
    expect(stat.contextSwitches).toBe(42);
  });

  it('refuses a schedstat version it does not know', () => {
    expect(parseSchedStat('version 14\ncpu0 0 0 0 0 0 0 0 0 0 0 0 0\n')).toMatch(/version 14/);
  });

  it('says why schedule() calls are missing when schedstats are off', () => {
    const counters = readCpuCounters([0], { root: fixture('host-isolated') });
    expect(counters.perCpu[0]).toEqual({ stealNs: null, interrupts: null, runQueueWaitNs: null, scheduleCalls: null });
    expect(counters.unavailable).toEqual({
      stealNs: '/proc/stat is absent',
      systemContextSwitches: '/proc/stat is absent',
      interrupts: '/proc/interrupts is absent',
      runQueueWaitNs: '/proc/schedstat is absent',
      scheduleCalls: '/proc/schedstat is absent',
    });
  });
});

describe('counters of this machine over a short busy wait', () => {
  const online = parseCpuList('online', readFileSync('/sys/devices/system/cpu/online', 'utf8'));

  it('has a key for every requested CPU and no negative count', () => {
    const before = readCpuCounters(online);
    const spinUntil = performance.now() + 50;
    while (performance.now() < spinUntil);
    const after = readCpuCounters(online);
    const delta = diffCpuCounters(before, after);

    expect(delta.elapsedNs).toBeGreaterThanOrEqual(50_000_000);
    expect(Object.keys(delta.perCpu).map(Number)).toEqual(online);
    for (const cpu of online) {
      const counters = delta.perCpu[cpu]!;
      expect(counters.interrupts).toBeGreaterThanOrEqual(0);
      expect(counters.stealNs).toBeGreaterThanOrEqual(0);
      for (const value of Object.values(counters)) expect(value === null || value >= 0).toBe(true);
    }
    expect(delta.systemContextSwitches).toBeGreaterThanOrEqual(0);
  });
});
