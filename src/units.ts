// One parser for durations and one for CPU lists, used by every option that takes them.
import { OptionError } from './errors.js';

export const NS_PER_US = 1_000;
export const NS_PER_MS = 1_000_000;
export const NS_PER_S = 1_000_000_000;

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: NS_PER_US,
  ms: NS_PER_MS,
  s: NS_PER_S,
  m: 60 * NS_PER_S,
  h: 3_600 * NS_PER_S,
  d: 86_400 * NS_PER_S,
};

export interface DurationRule {
  /** Units this option accepts, e.g. ['ns', 'us', 'ms', 's']. */
  units: readonly string[];
  /** The unit of a bare number (cyclictest's: us for intervals, s for -D). */
  bareUnit: string;
  minNs: number;
  maxNs: number;
  /** Allow 0 even though minNs is higher (e.g. a distance of 0). */
  allowZero?: boolean;
}

/** Periods and distances: cyclictest's -i and -d take microseconds. */
export const PERIOD_RULE: DurationRule = { units: ['ns', 'us', 'ms', 's'], bareUnit: 'us', minNs: NS_PER_US, maxNs: 10 * NS_PER_S };
/** Latency thresholds (--spike, --breaktrace, --explain): a bare number is us, as cyclictest's; 0 allowed. */
export const LATENCY_RULE: DurationRule = { ...PERIOD_RULE, minNs: 0 };
/** Run lengths: cyclictest's -D takes seconds, or m, h, d. */
export const DURATION_RULE: DurationRule = { units: ['ms', 's', 'm', 'h', 'd'], bareUnit: 's', minNs: NS_PER_MS, maxNs: 365 * 86_400 * NS_PER_S };

const DURATION = /^(\d+(?:\.\d+)?)([a-z]*)$/;

/** Parses "50us", "1.5ms", "10s", "2h" (or a bare number in the rule's unit) into whole nanoseconds. */
export function parseDurationNs(option: string, text: string, rule: DurationRule): number {
  const accepted =
    `a duration in ${rule.units.join('/')} from ${formatDuration(rule.minNs)} to ${formatDuration(rule.maxNs)}` +
    ` (e.g. ${exampleFor(rule)}; a bare number is ${rule.bareUnit})`;
  const match = DURATION.exec(text.trim());
  const unit = match?.[2] === '' ? rule.bareUnit : match?.[2];
  if (!match || unit === undefined || !rule.units.includes(unit)) throw new OptionError(option, text, accepted);
  const ns = Math.round(Number(match[1]) * UNIT_NS[unit]!);
  if (ns === 0 && rule.allowZero) return 0;
  if (!Number.isSafeInteger(ns) || ns < rule.minNs || ns > rule.maxNs) throw new OptionError(option, text, accepted);
  return ns;
}

function exampleFor(rule: DurationRule): string {
  return rule.units.includes('us') ? '50us, 1ms' : '10s, 5m';
}

/** "0-3,6" -> [0, 1, 2, 3, 6]: sorted, without repeats. */
export function parseCpuList(option: string, text: string): number[] {
  const accepted = 'a CPU list such as 0-3,6';
  const cpus = new Set<number>();
  for (const part of text.trim().split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!match) throw new OptionError(option, text, accepted);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first || last >= 4096) throw new OptionError(option, text, accepted);
    for (let cpu = first; cpu <= last; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** [0, 1, 2, 3, 6] -> "0-3,6". */
export function formatCpuList(cpus: readonly number[]): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Parses a whole number within [min, max]. */
export function parseInteger(option: string, text: string, min: number, max: number): number {
  const value = /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new OptionError(option, text, `a whole number from ${min} to ${max}`);
  }
  return value;
}

/** 50000 -> "50us", 1500000 -> "1.5ms": the shortest exact-enough form for messages and labels. */
export function formatDuration(ns: number): string {
  const units: [string, number][] = [['d', UNIT_NS.d!], ['h', UNIT_NS.h!], ['m', UNIT_NS.m!], ['s', NS_PER_S], ['ms', NS_PER_MS], ['us', NS_PER_US]];
  for (const [unit, size] of units) {
    if (ns >= size) return `${Number((ns / size).toPrecision(6))}${unit}`;
  }
  return `${ns}ns`;
}
