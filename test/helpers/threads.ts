// This process's threads as /proc lists them. A thread's /proc/self/task entry outlives its join by a
// moment: pthread_join returns when the ending thread clears its tid, before the kernel reaps it and
// removes the entry. A check that a thread ended therefore waits that moment out instead of reading once.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { waitFor } from './load-processes.js';

/** Long enough for a thread that has ended to be reaped on a busy machine. */
const REAPED_MS = 2_000;

/** Whether every one of `tids` is gone from /proc/self/task within a moment. */
export function threadsGone(tids: readonly number[]): Promise<boolean> {
  return waitFor(() => tids.every((tid) => !existsSync(`/proc/self/task/${tid}`)), REAPED_MS, 5);
}

/** The threads of this process for which `matches(tid)` holds (false for one that ends while being read). */
export function threadsWhere(matches: (tid: string) => boolean): number {
  return readdirSync('/proc/self/task').filter((tid) => {
    try {
      return matches(tid);
    } catch {
      return false; // ended while being read
    }
  }).length;
}

/** Threads of this process named `name` (their comm). */
export function threadsNamed(name: string): number {
  return threadsWhere((tid) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === name);
}

/** `count()` once it has come down to `expected` (threads that ended reaped), or as it stands after a moment. */
export async function settledCount(count: () => number, expected: number): Promise<number> {
  let last = count();
  await waitFor(() => (last = count()) === expected, REAPED_MS, 5);
  return last;
}
