// An rtlat domU's life: named rtlat-PID-N-TYPE after the rtlat that made it, created paused, destroyed
// on every way out. Two guards for the ways rtlat cannot clean up itself: a watchdog process that
// destroys the domain once rtlat is gone without saying it is done (SIGKILL), and, before each new
// domain, the destruction of any rtlat domain whose rtlat is no longer running.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { findXenTool, parseXlList, xl, xlAsync } from './xl.js';

const NAME = /^rtlat-(\d+)-\d+-(pv|pvh|hvm)$/;
let created = 0;

/** A new domain name for this process: rtlat-PID-N-TYPE. */
export function domainName(type: string): string {
  return `rtlat-${process.pid}-${++created}-${type}`;
}

/** The PID in an rtlat domain's name, or null for a domain rtlat did not name. */
export function ownerOf(name: string): number | null {
  const match = NAME.exec(name);
  return match ? Number(match[1]) : null;
}

/** True while `pid` is an rtlat (a Node process running rtlat) that has not ended. */
export function isRtlatRunning(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('rtlat');
  } catch {
    return false;
  }
}

/** The rtlat domains among `names` whose rtlat is gone. */
export function orphanedDomains(names: readonly string[], isRunning: (pid: number) => boolean = isRtlatRunning): string[] {
  return names.filter((name) => {
    const owner = ownerOf(name);
    return owner !== null && owner !== process.pid && !isRunning(owner);
  });
}

/** Destroys the domains an rtlat left behind (killed before it could); returns their names. */
export function destroyOrphans(): string[] {
  const orphans = orphanedDomains(parseXlList(xl(['list'])).map((domain) => domain.name));
  for (const name of orphans) {
    try {
      xl(['destroy', name]);
    } catch {
      // gone meanwhile
    }
  }
  return orphans;
}

export class Domain {
  private watchdog: ChildProcess | null;
  private destroyed = false;

  private constructor(
    readonly name: string,
    readonly id: number,
    watchdog: ChildProcess,
  ) {
    this.watchdog = watchdog;
  }

  /**
   * `xl create -p`: the domain is built but does not run until unpause(). The watchdog is started
   * first, so that no moment exists in which a killed rtlat leaves a domain behind.
   */
  static async create(name: string, configFile: string): Promise<Domain> {
    const xlBinary = findXenTool('xl');
    // Its stdin is the only pipe to rtlat: at EOF without "done", rtlat has gone. It has a session of its
    // own, so a ^C to rtlat's process group does not end it first.
    const watchdog = spawn(
      '/bin/sh',
      [
        '-c',
        // Not exec'd: the shell keeps stderr open until the domain is gone, so whoever reads it sees the end after that.
        `read done || { echo "rtlat guest: rtlat (pid ${process.pid}) ended without destroying domain ${name}: destroying it" >&2; "${xlBinary}" destroy "${name}" 2>/dev/null; }`,
      ],
      { detached: true, stdio: ['pipe', 'ignore', 'inherit'] },
    );
    watchdog.unref();
    try {
      await xlAsync(['create', '-p', configFile]);
      const id = Number(xl(['domid', name]).trim());
      return new Domain(name, id, watchdog);
    } catch (error) {
      await destroy(name);
      release(watchdog);
      throw error;
    }
  }

  unpause(): void {
    xl(['unpause', this.name]);
  }

  /** Destroys the domain (and an HVM guest's device model with it); idempotent. */
  async destroy(): Promise<void> {
    if (!this.destroyed) {
      this.destroyed = true;
      await destroy(this.name);
    }
    if (this.watchdog) release(this.watchdog);
    this.watchdog = null;
  }
}

async function destroy(name: string): Promise<void> {
  try {
    await xlAsync(['destroy', name]);
  } catch (error) {
    // Already gone (it powered off and on_poweroff destroyed it) is what a guest that finished does.
    if (parseXlList(xl(['list'])).some((domain) => domain.name === name)) throw error;
  }
}

/** Tells the watchdog all is well, and lets it end. */
function release(watchdog: ChildProcess): void {
  watchdog.stdin?.end('done\n');
}
