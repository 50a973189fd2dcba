// The guest's side of a run (its /init) and the protocol it speaks with the host over its second
// serial port, ttyS1 (the first is the console, which the kernel shares with everything it prints):
//
//   guest -> host   RTLAT-READY <kernel release>        booted; waits for the host's go
//   host -> guest   c (optional)                        align the clocks (--explain-host): the clock exchange below
//   host -> guest   g                                   host-side set-up done (priorities, load): measure
//   host -> guest   s                                   stop early (the host got SIGINT/SIGTERM)
//   guest -> host   RTLAT-CLOCK-AGAIN (after c)         measured: the clock exchange once more
//   guest -> host   RTLAT-FILE <bytes> <name>, base64 of the gzipped file (<bytes> long), RTLAT-END <name>
//   guest -> host   RTLAT-EXIT <status>                 rtlat's exit code
//   host -> guest   a                                   all received: the guest powers off
//
// The clock exchange: the guest says RTLAT-CLOCK-READY, answers each "p" with RTLAT-CLOCK <its
// CLOCK_MONOTONIC in ns> (src/targets/guest/clock-echo.ts), and ends at "e".
//
// A lab host (src/targets/lab) speaks it too, with its files named by their paths, and two more lines:
// RTLAT-ERR <line> for each line its command writes to stderr, as it comes, and RTLAT-LEFT <what> for
// each domain or QEMU still running once its command has ended.
//
// The guest waits for that last "a" because poweroff does not wait for a serial port to drain: the
// end of the results could otherwise be lost with the guest. Files travel as base64 so that no byte of them can be taken for a marker or changed by a tty.
// A line among them that is not base64 (a kernel's message where the channel is also its console) is left out,
// and a file whose bytes do not add up is a fault, not a run file.
import { gunzipSync } from 'node:zlib';
import { GUEST_BUSYBOX, GUEST_NODE, GUEST_PACKAGE_DIR } from './contents.js';

export const READY = 'RTLAT-READY';
export const GO = 'g';
export const STOP = 's';
export const ACK = 'a';
export const CLOCK = 'c';
export const CLOCK_PING = 'p';
export const CLOCK_END = 'e';
export const CLOCK_READY = 'RTLAT-CLOCK-READY';
export const CLOCK_SAMPLE = 'RTLAT-CLOCK';
const CLOCK_AGAIN = 'RTLAT-CLOCK-AGAIN';
export const FILE = 'RTLAT-FILE';
export const END = 'RTLAT-END';
export const EXIT = 'RTLAT-EXIT';
export const STDERR = 'RTLAT-ERR';
export const LEFT = 'RTLAT-LEFT';

/** Files the guest sends back, by name; the host maps them to its own outputs. */
export const GUEST_FILES = {
  run: '/tmp/run.json',
  hdrLog: '/tmp/run.hlog',
  stdout: '/tmp/stdout',
  stderr: '/tmp/stderr',
} as const;
export type GuestFileName = keyof typeof GUEST_FILES;

/** The kernel command-line parameter naming the channel's device when it is not ttyS1 (rtlat.channel=hvc0). */
export const CHANNEL_PARAMETER = 'rtlat.channel';

/** Holds the rtlat arguments, written by the host into each run's own small archive. */
export const GUEST_ARGS_FILE = '/rtlat/args.sh';

/** Shell-quotes each argument for GUEST_ARGS_FILE. */
export function argsScript(args: readonly string[]): string {
  return `set -- ${args.map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ')}\n`;
}

export const SIGINT_READY_MODULE = `${GUEST_PACKAGE_DIR}/dist/targets/guest/sigint-ready.js`;
export const SIGINT_READY_FILE = '/tmp/sigint-ready';
const CLOCK_ECHO = `${GUEST_NODE} ${GUEST_PACKAGE_DIR}/dist/targets/guest/clock-echo.js <&3 >&3`;

/** The shell function that sends a file on fd 3 as `send NAME PATH` (nothing when PATH is missing). */
export const SEND_FUNCTION = `send() {
  [ -f "$2" ] || return 0
  gzip -c "$2" >/tmp/.send.gz
  echo "${FILE} $(stat -c %s /tmp/.send.gz) $1" >&3
  base64 </tmp/.send.gz >&3
  echo "${END} $1" >&3
}
`;

/** The /init of a measuring guest. */
export const MEASURE_INIT = `#!${GUEST_BUSYBOX} sh
# rtlat's guest init (src/targets/guest/protocol.ts): measure once, send the results over ttyS1, power off.
${GUEST_BUSYBOX} --install -s /bin
export PATH=/bin:/usr/bin HOME=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
# --breaktrace writes a trace marker and stops ftrace through tracefs.
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
. ${GUEST_ARGS_FILE}

# The channel is ttyS1 unless the kernel's command line names another (a Xen guest's console, hvc0).
channel=/dev/ttyS1
for arg in $(cat /proc/cmdline); do
  case "$arg" in ${CHANNEL_PARAMETER}=*) channel=/dev/\${arg#${CHANNEL_PARAMETER}=} ;; esac
done
# Nothing of the kernel's on the channel from here on, even where it is the console: the sysctl takes 0
# (no message at all, not even an emergency's, such as a starved vCPU's soft lockup), dmesg -n only 1.
echo 0 > /proc/sys/kernel/printk 2>/dev/null || dmesg -n 1
stty -F $channel raw -echo
exec 3<>$channel
echo "${READY} $(uname -r)" >&3
read -n 1 go <&3
aligned=
if [ "$go" = "${CLOCK}" ]; then
  aligned=1
  ${CLOCK_ECHO}
  read -n 1 go <&3
fi

cd /tmp
RTLAT_SIGINT_READY_FILE=${SIGINT_READY_FILE} ${GUEST_NODE} --import ${SIGINT_READY_MODULE} ${GUEST_PACKAGE_DIR}/bin/rtlat "$@" \
  >${GUEST_FILES.stdout} 2>${GUEST_FILES.stderr} &
measuring=$!
# The host's stop, passed on as the SIGINT that stops rtlat measure with its results, once rtlat
# listens for it (src/targets/guest/sigint-ready.ts): before that, SIGINT would kill it.
(
  read -n 1 stop <&3
  while kill -0 $measuring 2>/dev/null; do
    if [ -e ${SIGINT_READY_FILE} ]; then
      kill -INT $measuring
      break
    fi
    sleep 0.2
  done
) &
watcher=$!
wait $measuring
status=$?
kill $watcher 2>/dev/null
if [ -n "$aligned" ]; then
  echo "${CLOCK_AGAIN}" >&3
  ${CLOCK_ECHO}
fi

${SEND_FUNCTION}${Object.entries(GUEST_FILES)
  .map(([name, file]) => `send ${name} ${file}`)
  .join('\n')}
echo "${EXIT} $status" >&3
read -t 60 -n 1 ack <&3
poweroff -f
`;

/** The /init of the KVM probe boot: only says it came up. */
export const PROBE_INIT = `#!${GUEST_BUSYBOX} sh
${GUEST_BUSYBOX} mount -t devtmpfs devtmpfs /dev
echo "${READY} probe" >/dev/ttyS1
${GUEST_BUSYBOX} poweroff -f
`;

/** What came back from the guest. */
export interface GuestReport {
  /** By the name the guest sent them under: a GuestFileName, or a lab host's path. */
  files: Partial<Record<string, Buffer>>;
  /** rtlat's exit status in the guest. */
  status: number;
}

export interface ChannelEvents {
  onReady?: (release: string) => void;
  onReport?: (report: GuestReport) => void;
  /** A line the command wrote to stderr (a lab host's). */
  onStderr?: (line: string) => void;
  /** Something still running after the command (a lab host's). */
  onLeft?: (what: string) => void;
  /** A file that came back damaged: the report will not be whole. */
  onFault?: (error: Error) => void;
  /** The clock exchange: the guest is ready for it, sends a sample (its CLOCK_MONOTONIC), or asks for it again at the end. */
  onClock?: (event: { kind: 'ready' | 'again' } | { kind: 'sample'; guestNs: number }) => void;
}

/** A guest's coming up and its whole report as promises, and the channel events that settle them. */
export function channelOutcome(): { cameUp: Promise<string>; report: Promise<GuestReport>; events: Required<Pick<ChannelEvents, 'onReady' | 'onReport' | 'onFault'>> } {
  let onReady!: (release: string) => void;
  let onReport!: (report: GuestReport) => void;
  let onFault!: (error: Error) => void;
  const cameUp = new Promise<string>((resolve) => (onReady = resolve));
  const report = new Promise<GuestReport>((resolve, reject) => {
    onReport = resolve;
    onFault = reject;
  });
  return { cameUp, report, events: { onReady, onReport, onFault } };
}

const BASE64_LINE = /^[A-Za-z0-9+/]+={0,2}$/;

/** Reads the guest's lines on ttyS1 as they arrive; tells when it is ready and when its report is complete. */
export class GuestChannel {
  private pending = '';
  private current: { name: string; bytes: number; base64: string[]; skipped: number } | null = null;
  private readonly files: Partial<Record<string, Buffer>> = {};
  /** Everything the guest sent, once it has sent its exit status. */
  report: GuestReport | null = null;

  constructor(private readonly events: ChannelEvents = {}) {}

  push(chunk: string): void {
    const lines = (this.pending + chunk).split(/\r?\n/);
    this.pending = lines.pop()!;
    for (const line of lines) this.line(line);
  }

  private line(raw: string): void {
    // A stderr line keeps its own spacing; the rest may come with a tty's carriage returns and padding.
    const stderrAt = raw.indexOf(`${STDERR} `);
    if (this.current === null && stderrAt >= 0) {
      this.events.onStderr?.(raw.slice(stderrAt + STDERR.length + 1));
      return;
    }
    const line = raw.trim();
    const space = line.indexOf(' ');
    const marker = space < 0 ? line : line.slice(0, space);
    const value = space < 0 ? '' : line.slice(space + 1);
    if (this.current) {
      if (marker === END) {
        this.endFile(this.current);
        this.current = null;
      } else if (BASE64_LINE.test(line)) {
        this.current.base64.push(line);
      } else {
        this.current.skipped++;
      }
    } else if (marker === READY) {
      this.events.onReady?.(value);
    } else if (marker === CLOCK_READY || marker === CLOCK_AGAIN) {
      this.events.onClock?.({ kind: marker === CLOCK_READY ? 'ready' : 'again' });
    } else if (marker === CLOCK_SAMPLE) {
      this.events.onClock?.({ kind: 'sample', guestNs: Number(value) });
    } else if (marker === FILE) {
      const space = value.indexOf(' ');
      this.current = { name: value.slice(space + 1), bytes: Number(value.slice(0, space)), base64: [], skipped: 0 };
    } else if (marker === LEFT) {
      this.events.onLeft?.(value);
    } else if (marker === EXIT) {
      this.report = { files: this.files, status: Number(value) };
      this.events.onReport?.(this.report);
    }
  }

  private endFile({ name, bytes, base64, skipped }: NonNullable<GuestChannel['current']>): void {
    const gzipped = Buffer.from(base64.join(''), 'base64');
    const damaged = (why: string) =>
      this.events.onFault?.(new Error(`${name} came back damaged over the channel (${why}${skipped ? `; ${skipped} lines that were not base64 among it` : ''})`));
    if (gzipped.length !== bytes) return damaged(`${gzipped.length} of ${bytes} bytes`);
    try {
      this.files[name] = gunzipSync(gzipped);
    } catch (error) {
      damaged((error as Error).message);
    }
  }
}
