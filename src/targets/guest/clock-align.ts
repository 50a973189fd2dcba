// The guest's CLOCK_MONOTONIC against the host's, through the guest protocol's clock exchange: the host
// stamps each ping's send and the answer's arrival, and keeps the exchange with the shortest round trip
// (as NTP does): the guest read its clock within that round trip, so half of it bounds the error.
// Measured before the guest measures and after, so that a drift between the two clocks is corrected.
import { CLOCK_END, CLOCK_PING } from './protocol.js';

export interface ClockSample {
  /** Host CLOCK_MONOTONIC at the exchange. */
  hostNs: number;
  /** host = guest + offsetNs, then. */
  offsetNs: number;
  /** Half the shortest round trip: the offset is within this. */
  errorNs: number;
}

export interface ClockAlignment {
  /** host = guest + offsetNs at the start of the run. */
  offsetNs: number;
  /** The larger of the two exchanges' bounds. */
  errorNs: number;
  /** How fast the guest's clock ran against the host's, in parts per million (0 with a single exchange). */
  driftPpm: number;
  /** A guest CLOCK_MONOTONIC time on the host's clock. */
  toHost(guestNs: number): number;
}

const PINGS = 16;
const hostNowNs = () => Number(process.hrtime.bigint());

/** Feeds the guest channel's clock events to whoever waits for them. */
export class ClockExchange {
  private ready: (() => void) | null = null;
  private readyArrived = false;
  private sample: ((guestNs: number) => void) | null = null;

  constructor(private readonly onAgain: () => void) {}

  /** The guest channel's onClock. */
  handle(event: { kind: 'ready' | 'again' } | { kind: 'sample'; guestNs: number }): void {
    if (event.kind === 'sample') this.sample?.(event.guestNs);
    else if (event.kind === 'again') this.onAgain();
    else {
      this.readyArrived = true;
      this.ready?.();
    }
  }

  /** Once the guest's echo is up: pings it, ends the exchange, and returns the best sample. */
  async measure(send: (text: string) => void, timeoutMs: number): Promise<ClockSample> {
    const timeout = <T>(what: string, promise: Promise<T>) =>
      Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the guest did not ${what} within ${timeoutMs / 1000}s`)), timeoutMs).unref())]);
    if (!this.readyArrived) await timeout('start its clock echo', new Promise<void>((resolve) => (this.ready = resolve)));
    this.readyArrived = false;
    let best: ClockSample | null = null;
    for (let ping = 0; ping < PINGS; ping++) {
      const answered = new Promise<number>((resolve) => (this.sample = resolve));
      const sentNs = hostNowNs();
      send(CLOCK_PING);
      const guestNs = await timeout('answer a clock ping', answered);
      const receivedNs = hostNowNs();
      const errorNs = (receivedNs - sentNs) / 2;
      if (!best || errorNs < best.errorNs) best = { hostNs: sentNs + errorNs, offsetNs: sentNs + errorNs - guestNs, errorNs };
    }
    this.sample = null;
    send(CLOCK_END);
    return best!;
  }
}

/** The alignment of two exchanges (the second may be missing, e.g. after an interrupted run). */
export function alignClocks(start: ClockSample, end: ClockSample | null): ClockAlignment {
  const spanNs = end ? end.hostNs - start.hostNs : 0;
  const slope = end && spanNs > 0 ? (end.offsetNs - start.offsetNs) / spanNs : 0;
  const guestStartNs = start.hostNs - start.offsetNs;
  return {
    offsetNs: start.offsetNs,
    errorNs: Math.max(start.errorNs, end?.errorNs ?? 0),
    driftPpm: slope * 1e6,
    toHost: (guestNs) => guestNs + start.offsetNs + slope * (guestNs - guestStartNs),
  };
}
