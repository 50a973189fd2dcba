// The time-outs of one run of a QEMU guest, a Xen domU or a lab host: each a promise that rejects with
// its message when its time is up, to race against what it waits for; all cleared when the run ends,
// whichever way it ends.

/** After an interrupt the guest stops measuring and sends what it has; it is killed if that takes longer. */
export const STOP_TIMEOUT_MS = 30_000;

export class Deadlines {
  private readonly timers: NodeJS.Timeout[] = [];

  /** Rejects after `ms` with `message()`, read then (a console's last lines, say). */
  after(ms: number, message: () => string): Promise<never> {
    return new Promise((_, reject) => this.timers.push(setTimeout(() => reject(new Error(message())), ms)));
  }

  /** Rejects once `signal` aborts (at once if it has): "interrupted before `what` came up". */
  interruptedBefore(signal: AbortSignal | undefined, what: string): Promise<never> {
    return new Promise((_, reject) => {
      const abort = () => reject(new Error(`interrupted before ${what} came up`));
      if (signal?.aborted) abort();
      signal?.addEventListener('abort', abort, { once: true });
    });
  }

  /** Once `signal` aborts: `stop()`, and a rejection if the guest has not ended STOP_TIMEOUT_MS later. */
  stopOnAbort(signal: AbortSignal | undefined, stop: () => void, lastLines: () => string): Promise<never> {
    return new Promise((_, reject) => {
      const abort = () => {
        stop();
        this.after(STOP_TIMEOUT_MS, () => `the guest did not stop within ${STOP_TIMEOUT_MS / 1000}s of the interrupt${lastLines()}`).catch(reject);
      };
      signal?.addEventListener('abort', abort, { once: true });
    });
  }

  clear(): void {
    for (const timer of this.timers) clearTimeout(timer);
  }
}
