// The knobs between a timer expiring and a thread running: the clock, RT throttling, timer slack,
// and the polling a guest or a host does before it halts an idle CPU.
import { commandLineParameter, type KernelCommandLine, parseKernelSize } from './cmdline.js';
import { type Field, isKnown, known, mapField, type SystemFiles, unknown } from './field.js';

export interface GuestHaltPoll {
  /** How long an idle vCPU polls before it halts (a halt exits to the host); 0: it halts at once. */
  pollNs: number;
  growStartNs: number | null;
  grow: number | null;
  shrink: number | null;
  allowShrink: boolean | null;
}

export interface TimingFingerprint {
  clocksource: Field<string>;
  availableClocksources: Field<string[]>;
  /** The device that fires the CPU's timers (clockevent0): "xen" in a Xen guest, "lapic-deadline", ... */
  clockevent: Field<string>;
  /** RT tasks may run this long per period before the kernel throttles them; -1: never throttled. */
  rtRuntimeUs: Field<number>;
  rtPeriodUs: Field<number>;
  /** This process's timer slack (the measuring threads set their own). */
  timerSlackNs: Field<number>;
  /** The guest-side haltpoll cpuidle governor's parameters (a KVM guest). */
  guestHaltPoll: Field<GuestHaltPoll>;
  /**
   * KVM's host-side polling before a halted vCPU is descheduled. It is present wherever the kvm module is
   * loaded: on a host, or in a guest able to run nested guests; it describes the guests this kernel runs.
   */
  kvmHaltPollNs: Field<number>;
  /**
   * How close to now Linux's xen clockevent arms a timer at the least (TIMER_SLOP, or xen_timer_slop=, a boot
   * parameter only): a wake-up sooner than that comes that late, a timer-resolution latency `rtlat sweep` shows.
   */
  xenTimerSlopNs: Field<number>;
}

const CLOCKSOURCE_DIR = '/sys/devices/system/clocksource/clocksource0';
const CLOCKEVENT_FILE = '/sys/devices/system/clockevents/clockevent0/current_device';
const HALTPOLL_DIR = '/sys/module/haltpoll/parameters';
/** arch/x86/xen/time.c: TIMER_SLOP, used unless xen_timer_slop= is given. */
const XEN_DEFAULT_TIMER_SLOP_NS = 100_000;

export function readAvailableClocksources(files: SystemFiles): Field<string[]> {
  return mapField(files.trimmed(`${CLOCKSOURCE_DIR}/available_clocksource`), (text, source) => known(text.split(/\s+/).filter((name) => name !== ''), source));
}

function readGuestHaltPoll(files: SystemFiles): Field<GuestHaltPoll> {
  const pollNs = files.integer(`${HALTPOLL_DIR}/guest_halt_poll_ns`);
  if (!isKnown(pollNs)) return unknown(`${pollNs.reason} (no haltpoll cpuidle governor: not a KVM guest, or built without CONFIG_HALTPOLL_CPUIDLE)`);
  const optional = (name: string): number | null => files.integer(`${HALTPOLL_DIR}/${name}`).value;
  const allowShrink = files.trimmed(`${HALTPOLL_DIR}/guest_halt_poll_allow_shrink`).value;
  return known(
    {
      pollNs: pollNs.value,
      growStartNs: optional('guest_halt_poll_grow_start'),
      grow: optional('guest_halt_poll_grow'),
      shrink: optional('guest_halt_poll_shrink'),
      allowShrink: allowShrink === null ? null : allowShrink === 'Y',
    },
    HALTPOLL_DIR,
  );
}

function readXenTimerSlop(cmdline: Field<KernelCommandLine>, isXenGuest: boolean, clockevent: Field<string>): Field<number> {
  const given = commandLineParameter(cmdline, 'xen_timer_slop');
  if (isKnown(given)) {
    const slopNs = parseKernelSize(given.value);
    return slopNs === null ? unknown(`${given.source} is not a number`) : known(slopNs, given.source);
  }
  if (clockevent.value === 'xen') {
    return known(XEN_DEFAULT_TIMER_SLOP_NS, `${clockevent.source} = xen: Linux's xen clockevent never arms a timer closer than TIMER_SLOP (${given.reason})`);
  }
  if (!isXenGuest) return unknown('not a Xen guest');
  if (isKnown(clockevent)) return unknown(`${clockevent.source} = ${clockevent.value}, not xen: the Xen timer slop does not apply`);
  return known(XEN_DEFAULT_TIMER_SLOP_NS, `kernel default (${given.reason})`);
}

export function readTiming(files: SystemFiles, cmdline: Field<KernelCommandLine>, isXenGuest: boolean): TimingFingerprint {
  const clockevent = files.trimmed(CLOCKEVENT_FILE);
  return {
    clocksource: files.trimmed(`${CLOCKSOURCE_DIR}/current_clocksource`),
    availableClocksources: readAvailableClocksources(files),
    clockevent,
    rtRuntimeUs: files.integer('/proc/sys/kernel/sched_rt_runtime_us'),
    rtPeriodUs: files.integer('/proc/sys/kernel/sched_rt_period_us'),
    timerSlackNs: files.integer('/proc/self/timerslack_ns'),
    guestHaltPoll: readGuestHaltPoll(files),
    kvmHaltPollNs: files.integer('/sys/module/kvm/parameters/halt_poll_ns'),
    xenTimerSlopNs: readXenTimerSlop(cmdline, isXenGuest, clockevent),
  };
}
