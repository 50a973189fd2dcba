// cyclictest's --json file (rt-utils' rt_write_json and cyclictest's write_stats), laid out as cyclictest
// lays it out, with its odd keys ("cmdline:", "rt_test_version:"), so that a harness reading cyclictest's
// file reads rtlat's. Where cyclictest writes something that is not JSON, rtlat writes JSON instead: the
// command line escaped, and null for the average of a thread that never woke (cyclictest: -nan).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { RunFile } from '../../run-file/schema.js';
import { NS_PER_US } from '../../units.js';
import { CYCLICTEST_MIN_UNSET } from './text.js';
import type { CyclictestVersion } from '../../cyclictest/version.js';

export interface CyclictestJsonOptions {
  version: CyclictestVersion;
  /** argv joined by spaces, as cyclictest records it ("cyclictest -m -p 99 ..."). */
  commandLine: string;
  startTime: Date;
  endTime: Date;
  /** -N: values in ns. */
  nsecs: boolean;
  /** Whether -h/-H kept a histogram (2.7 and later write the key only then). */
  histogram: boolean;
  /** Per thread: the CPU cyclictest pinned it to (-1: not pinned) and its NUMA node. */
  placement: readonly { cpu: number; node: number }[];
}

/** The "sysinfo" object: uname(2), and whether /sys/kernel/realtime says PREEMPT_RT. */
export function systemInfo(): Record<string, string | number> {
  let realtime = 0;
  try {
    realtime = readFileSync('/sys/kernel/realtime', 'utf8').startsWith('1') ? 1 : 0;
  } catch {
    // Not a PREEMPT_RT kernel.
  }
  return { sysname: os.type(), nodename: os.hostname(), release: os.release(), version: os.version(), machine: os.machine(), realtime };
}

export function formatCyclictestJson(run: RunFile, options: CyclictestJsonOptions): string {
  const out: string[] = [];
  const sysinfo = systemInfo();
  out.push('{\n');
  out.push('  "file_version": 1,\n');
  out.push(`  "cmdline:": ${JSON.stringify(options.commandLine)},\n`);
  out.push(`  "rt_test_version:": "${options.version.printed}",\n`);
  out.push(`  "start_time": "${rfc2822(options.startTime)}",\n`);
  out.push(`  "end_time": "${rfc2822(options.endTime)}",\n`);
  out.push('  "return_code": 0,\n');
  out.push('  "sysinfo": {\n');
  const entries = Object.entries(sysinfo);
  entries.forEach(([key, value], index) => {
    out.push(`    "${key}": ${typeof value === 'number' ? value : JSON.stringify(value)}${index < entries.length - 1 ? ',' : ''}\n`);
  });
  out.push('  },\n');
  out.push(`  "num_threads": ${run.threads.length},\n`);
  out.push(`  "resolution_in_ns": ${options.nsecs ? 1 : 0},\n`);
  out.push('  "thread": {\n');
  const scale = options.nsecs ? 1 : NS_PER_US;
  run.threads.forEach((thread, index) => {
    out.push(`    "${index}": {\n`);
    const buckets = options.histogram ? (thread.microsecondHistogram?.buckets ?? []) : [];
    if (options.histogram || !options.version.histogramLibrary) out.push(`      "histogram": {${histogramEntries(buckets, options.version)}      },\n`);
    const avg = thread.count === 0 ? 'null' : (options.nsecs ? thread.avgNs : meanUs(thread)).toFixed(2);
    out.push(`      "cycles": ${thread.count},\n`);
    out.push(`      "min": ${thread.count ? Math.trunc(thread.minNs / scale) : CYCLICTEST_MIN_UNSET},\n`);
    out.push(`      "max": ${thread.count ? Math.trunc(thread.maxNs / scale) : 0},\n`);
    out.push(`      "avg": ${avg},\n`);
    out.push(`      "cpu": ${options.placement[index]?.cpu ?? -1},\n`);
    out.push(`      "node": ${options.placement[index]?.node ?? -1}\n`);
    out.push(`    }${index === run.threads.length - 1 ? '' : ','}\n`);
  });
  out.push('  }\n');
  out.push('}\n');
  return out.join('');
}

/** The mean of truncated microseconds cyclictest writes (an imported run's mean already is one). */
function meanUs(thread: RunFile['threads'][number]): number {
  return thread.sumUs === null ? thread.avgNs / NS_PER_US : thread.sumUs / thread.count;
}

/** The non-empty buckets, one per line; 2.4 writes "{      }" for none, 2.7 and later a line break. */
function histogramEntries(buckets: readonly number[], version: CyclictestVersion): string {
  const entries = buckets.flatMap((count, us) => (count ? [`        "${us}": ${count}`] : []));
  if (entries.length === 0) return version.histogramLibrary ? '\n' : '';
  return `\n${entries.join(',\n')}\n`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** strftime("%a, %d %b %Y %T %z") in local time and the C locale, as cyclictest stamps its runs. */
export function rfc2822(date: Date): string {
  const two = (value: number) => String(value).padStart(2, '0');
  const offsetMinutes = -date.getTimezoneOffset();
  const sign = offsetMinutes < 0 ? '-' : '+';
  const offset = `${sign}${two(Math.floor(Math.abs(offsetMinutes) / 60))}${two(Math.abs(offsetMinutes) % 60)}`;
  return (
    `${DAYS[date.getDay()]}, ${two(date.getDate())} ${MONTHS[date.getMonth()]} ${date.getFullYear()} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())} ${offset}`
  );
}
