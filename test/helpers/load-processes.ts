// Finds load generators in /proc: the rtlat-load supervisors of one parent (by the --parent-pid in
// their argv), and every process of their sessions (each supervisor starts a session of its own, so
// its workers and whatever stress-ng forks share its session id).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  session: number;
  /** R, S, D, Z, ... */
  state: string;
  argv: string[];
}

function readProcess(pid: number): ProcessInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces and parentheses.
    const [state, ppid, , session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((arg) => arg !== '');
    return { pid, ppid: Number(ppid), session: Number(session), state: state!, argv };
  } catch {
    return null;
  }
}

export function listProcesses(): ProcessInfo[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => readProcess(Number(name)) ?? []);
}

/** rtlat-load processes started for process `parentPid`, supervisors and their forked workers (found by argv, so also after it died). */
export function loadProcesses(parentPid: number): ProcessInfo[] {
  return listProcesses().filter((candidate) => {
    const index = candidate.argv.indexOf('--parent-pid');
    return candidate.argv[0]?.endsWith('/rtlat-load') && candidate.argv[index + 1] === `${parentPid}` && candidate.state !== 'Z';
  });
}

/** The rtlat-load supervisors of a living process `parentPid`. */
export function loadSupervisors(parentPid: number): ProcessInfo[] {
  return loadProcesses(parentPid).filter((candidate) => candidate.ppid === parentPid);
}

/** Processes of these sessions that still exist (a zombie has already ended: it only waits to be reaped). */
export function liveInSessions(sessions: ReadonlySet<number>): ProcessInfo[] {
  return listProcesses().filter((candidate) => sessions.has(candidate.session) && candidate.state !== 'Z');
}

/** The CPUs a process may run on (its affinity). */
export function allowedCpus(pid: number): string {
  return /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
}

/** The scheduling policy number from /proc/PID/stat (0: SCHED_OTHER). */
export function schedulingPolicy(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 41 overall; the fields after the name start at field 3.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[41 - 3]);
}

/** The write system calls a process has made (syscw of /proc/PID/io); 0 once it is gone. */
export function writeCalls(pid: number): number {
  try {
    return Number(/^syscw:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Where a process's open file descriptors point. */
export function openFiles(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        return [readlinkSync(`/proc/${pid}/fd/${fd}`)];
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

/** Polls `condition` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(condition: () => boolean, timeoutMs: number, pollMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (condition()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
