// The guest's side of a run (its /init) and the protocol it speaks with the host over its second
// serial port, ttyS1 (the first is the console, which the kernel shares with everything it prints):
//
//   guest -> host   RTLAT-READY <kernel release>        booted; waits for the host's go
//   host -> guest   c (optional)                        align the clocks (--explain-host): the clock exchange below
//   host -> guest   g                                   host-side set-up done (priorities, load): measure
//   host -> guest   s                                   stop early (the host got SIGINT/SIGTERM)
//   guest -> host   RTLAT-CLOCK-AGAIN (after c)         measured: the clock exchange once more
//   guest -> host   RTLAT-FILE <name>, base64 of the gzipped file, RTLAT-END <name>   for each result file
//   guest -> host   RTLAT-EXIT <status>                 rtlat's exit code
//   host -> guest   a                                   all received: the guest powers off
//
// The clock exchange: the guest says RTLAT-CLOCK-READY, answers each "p" with RTLAT-CLOCK <its
// CLOCK_MONOTONIC in ns> (src/targets/guest/clock-echo.ts), and ends at "e".
//
// The guest waits for that last "a" because poweroff does not wait for a serial port to drain: the
// end of the results could otherwise be lost with the guest. Files travel as base64 so that no byte of them can be taken for a marker or changed by a tty.
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
const FILE = 'RTLAT-FILE';
const END = 'RTLAT-END';
const EXIT = 'RTLAT-EXIT';

/** Files the guest sends back, by name; the host maps them to its own outputs. */
export const GUEST_FILES = {
  run: '/tmp/run.json',
  hdrLog: '/tmp/run.hlog',
  stdout: '/tmp/stdout',
  stderr: '/tmp/stderr',
} as const;
export type GuestFileName = keyof typeof GUEST_FILES;

/** Holds the rtlat arguments, written by the host into each run's own small archive. */
export const GUEST_ARGS_FILE = '/rtlat/args.sh';

/** Shell-quotes each argument for GUEST_ARGS_FILE. */
export function argsScript(args: readonly string[]): string {
  return `set -- ${args.map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ')}\n`;
}

const SIGINT_READY_MODULE = `${GUEST_PACKAGE_DIR}/dist/targets/guest/sigint-ready.js`;
const CLOCK_ECHO = `${GUEST_NODE} ${GUEST_PACKAGE_DIR}/dist/targets/guest/clock-echo.js <&3 >&3`;
const SIGINT_READY_FILE = '/tmp/sigint-ready';

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

stty -F /dev/ttyS1 raw -echo
exec 3<>/dev/ttyS1
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

send() {
  [ -f "$2" ] || return 0
  echo "${FILE} $1" >&3
  gzip -c "$2" | base64 >&3
  echo "${END} $1" >&3
}
${Object.entries(GUEST_FILES)
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
  files: Partial<Record<GuestFileName, Buffer>>;
  /** rtlat's exit status in the guest. */
  status: number;
}

/** Reads the guest's lines on ttyS1 as they arrive; tells when it is ready and when its report is complete. */
export class GuestChannel {
  private pending = '';
  private current: { name: string; base64: string[] } | null = null;
  private readonly files: Partial<Record<GuestFileName, Buffer>> = {};
  /** Everything the guest sent, once it has sent its exit status. */
  report: GuestReport | null = null;

  constructor(
    private readonly events: {
      onReady?: (release: string) => void;
      onReport?: (report: GuestReport) => void;
      /** The clock exchange: the guest is ready for it, sends a sample (its CLOCK_MONOTONIC), or asks for it again at the end. */
      onClock?: (event: { kind: 'ready' | 'again' } | { kind: 'sample'; guestNs: number }) => void;
    } = {},
  ) {}

  push(chunk: string): void {
    const lines = (this.pending + chunk).split(/\r?\n/);
    this.pending = lines.pop()!;
    for (const line of lines) this.line(line.trim());
  }

  private line(line: string): void {
    const [marker, value = ''] = line.split(' ', 2);
    if (this.current) {
      if (marker === END) {
        const { name, base64 } = this.current;
        if (name in GUEST_FILES) this.files[name as GuestFileName] = gunzipSync(Buffer.from(base64.join(''), 'base64'));
        this.current = null;
      } else {
        this.current.base64.push(line);
      }
    } else if (marker === READY) {
      this.events.onReady?.(value);
    } else if (marker === CLOCK_READY || marker === CLOCK_AGAIN) {
      this.events.onClock?.({ kind: marker === CLOCK_READY ? 'ready' : 'again' });
    } else if (marker === CLOCK_SAMPLE) {
      this.events.onClock?.({ kind: 'sample', guestNs: Number(value) });
    } else if (marker === FILE) {
      this.current = { name: value, base64: [] };
    } else if (marker === EXIT) {
      this.report = { files: this.files, status: Number(value) };
      this.events.onReport?.(this.report);
    }
  }
}
