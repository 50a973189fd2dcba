// The one parser for durations and the one for CPU lists, tested once, thoroughly.
import { describe, expect, it } from 'vitest';
import { OptionError } from '../src/errors.js';
import { DURATION_RULE, formatCpuList, formatDuration, parseCpuList, parseDurationNs, parseInteger, PERIOD_RULE } from '../src/units.js';

describe('parseDurationNs', () => {
  it.each([
    ['50us', 50_000],
    ['1ms', 1_000_000],
    ['1.5ms', 1_500_000],
    ['50', 50_000],
    ['2s', 2_000_000_000],
    ['10s', 10_000_000_000],
  ] as const)('period %s is %d ns', (text, ns) => {
    expect(parseDurationNs('period', text, PERIOD_RULE)).toBe(ns);
  });

  it.each(['0', '0us', '-5us', '50xs', 'us', '', '1e3us', '11s', '999ns', '1,5ms'])('rejects period %j naming the option', (text) => {
    expect(() => parseDurationNs('period', text, PERIOD_RULE)).toThrow(OptionError);
    expect(() => parseDurationNs('period', text, PERIOD_RULE)).toThrow(/^period: got ".*", expected a duration in ns\/us\/ms\/s from 1us to 10s/);
  });

  it('reads durations the way cyclictest -D does', () => {
    expect(parseDurationNs('duration', '10', DURATION_RULE)).toBe(10_000_000_000);
    expect(parseDurationNs('duration', '2m', DURATION_RULE)).toBe(120_000_000_000);
    expect(parseDurationNs('duration', '1h', DURATION_RULE)).toBe(3_600_000_000_000);
    expect(parseDurationNs('duration', '1d', DURATION_RULE)).toBe(86_400_000_000_000);
    expect(parseDurationNs('duration', '500ms', DURATION_RULE)).toBe(500_000_000);
    expect(() => parseDurationNs('duration', '10us', DURATION_RULE)).toThrow(/duration: got "10us"/);
  });

  it('accepts 0 only where the rule allows it', () => {
    expect(parseDurationNs('distance', '0', { ...PERIOD_RULE, allowZero: true })).toBe(0);
    expect(() => parseDurationNs('distance', '0', PERIOD_RULE)).toThrow(OptionError);
  });
});

describe('CPU lists', () => {
  it.each([
    ['0', [0]],
    ['0-3,6', [0, 1, 2, 3, 6]],
    ['6,0-1,1', [0, 1, 6]],
    [' 2 , 4-5 ', [2, 4, 5]],
  ])('parses %j', (text, cpus) => {
    expect(parseCpuList('cpus', text)).toEqual(cpus);
  });

  it.each(['', '1-', '-1', '3-1', 'a', '0,,1', '0-4096'])('rejects %j', (text) => {
    expect(() => parseCpuList('cpus', text)).toThrow(/^cpus: got ".*", expected a CPU list such as 0-3,6$/);
  });

  it('formats what it parses', () => {
    expect(formatCpuList([0, 1, 2, 3, 6])).toBe('0-3,6');
    expect(formatCpuList([5, 1, 1])).toBe('1,5');
    expect(formatCpuList([])).toBe('');
  });
});

describe('parseInteger and formatDuration', () => {
  it('bounds integers', () => {
    expect(parseInteger('loops', '10', 1, 100)).toBe(10);
    expect(() => parseInteger('loops', '0', 1, 100)).toThrow(/^loops: got "0", expected a whole number from 1 to 100$/);
    expect(() => parseInteger('loops', '1.5', 1, 100)).toThrow(OptionError);
  });

  it('formats durations compactly', () => {
    expect(formatDuration(50_000)).toBe('50us');
    expect(formatDuration(1_500_000)).toBe('1.5ms');
    expect(formatDuration(10_000_000_000)).toBe('10s');
    expect(formatDuration(500)).toBe('500ns');
  });
});
