// A lab host's /init: make the machine a Xen Dom0 or a KVM host (its kind's set-up), say so on the
// channel (ttyS1, as a guest does: src/guest/protocol.ts), run the rtlat command it was given with its
// stderr passed on line by line, pass on the signals rtlat lab forwards, then send back every file
// the command created or changed at a path on its command line (paths.ts), and its stdout, report
// what is still running (a domain, a QEMU), send the exit status and power off.
import { GUEST_BUSYBOX, GUEST_NODE, GUEST_PACKAGE_DIR } from '../guest/contents.js';
import { GUEST_IMAGE_VARIABLE } from '../guest/initramfs.js';
import { argsScript, EXIT, LEFT, READY, SEND_FUNCTION, SIGINT_READY_FILE, SIGINT_READY_MODULE, STDERR, STOP } from '../guest/protocol.js';

/** The host's signals as the lab passes them to its command: STOP is SIGINT, as for a guest. */
export const TERMINATE = 't';
export const KILL = 'k';

export const LAB_DIR = '/rtlat/lab';
export const LAB_ARGS_FILE = `${LAB_DIR}/args.sh`;
export const LAB_CANDIDATES_FILE = `${LAB_DIR}/candidates`;
/** Inside the lab host, rtlat keeps its images here (a tmpfs: the lab host has no disk). */
export const LAB_CACHE_DIR = '/var/cache/rtlat';
/** The guests' image, built outside and put in the lab host's (RTLAT_GUEST_IMAGE points rtlat to it). */
export const LAB_GUEST_IMAGE = '/var/lib/rtlat/guest-image.cpio';
/** The name the command's stdout comes back under (the files' names are absolute paths). */
export const STDOUT_NAME = 'stdout';

/** The lab's per-run script: the working folder, then the command's arguments. */
export function labArgsScript(cwd: string, args: readonly string[]): string {
  return `cwd=${argsScript([cwd]).slice('set -- '.length)}${argsScript(args)}`;
}

/** /usr/bin/rtlat in the lab host, for anyone who logs in or runs it from a script. */
export const RTLAT_WRAPPER = `#!${GUEST_BUSYBOX} sh\nexec ${GUEST_NODE} ${GUEST_PACKAGE_DIR}/bin/rtlat "$@"\n`;

export function labInit(setup: string, extraPath: readonly string[]): string {
  return `#!${GUEST_BUSYBOX} sh
# rtlat's lab host init (src/targets/lab/init.ts).
${GUEST_BUSYBOX} --install -s /bin
export PATH=${[...extraPath, '/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'].join(':')} HOME=/root RTLAT_CACHE_DIR=${LAB_CACHE_DIR} ${GUEST_IMAGE_VARIABLE}=${LAB_GUEST_IMAGE}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /root ${LAB_CACHE_DIR}
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
dmesg -n 1
. ${LAB_ARGS_FILE}

stty -F /dev/ttyS1 raw -echo
exec 3<>/dev/ttyS1
lab_fail() { echo "${STDERR} rtlat lab: the lab host's set-up: $*" >&3; }
${setup}
echo "${READY} $(uname -r)" >&3
read -n 1 go <&3

snapshot() {
  while IFS= read -r candidate; do
    [ -e "$candidate" ] && find "$candidate" -type f
  done < ${LAB_CANDIDATES_FILE} | sort -u | while IFS= read -r file; do
    echo "$(stat -c %Y:%s "$file") $file"
  done
}
# The folders of the command's paths exist here as they do outside (an output folder's, too).
while IFS= read -r candidate; do mkdir -p "$(dirname "$candidate")"; done < ${LAB_CANDIDATES_FILE}
snapshot > /tmp/.lab-before
mkdir -p "$cwd" && cd "$cwd"
mkfifo /tmp/.lab-stderr
(
  while IFS= read -r line || [ -n "$line" ]; do echo "${STDERR} $line" >&3; done < /tmp/.lab-stderr
) &
forwarder=$!
RTLAT_SIGINT_READY_FILE=${SIGINT_READY_FILE} ${GUEST_NODE} --import ${SIGINT_READY_MODULE} ${GUEST_PACKAGE_DIR}/bin/rtlat "$@" \\
  >/tmp/.lab-stdout 2>/tmp/.lab-stderr &
command=$!
# SIGINT and SIGTERM once the command listens for them (before that they would kill Node at once).
when_listening() {
  while kill -0 $command 2>/dev/null; do
    if [ -e ${SIGINT_READY_FILE} ]; then kill -$1 $command; return; fi
    sleep 0.2
  done
}
(
  while read -n 1 signal <&3; do
    case "$signal" in
      ${STOP}) when_listening INT & ;;
      ${TERMINATE}) when_listening TERM & ;;
      ${KILL}) kill -KILL $command ;;
    esac
  done
) &
watcher=$!
wait $command
status=$?
kill $watcher 2>/dev/null
# The stderr lines end when every process holding the pipe has (a watchdog the command left, too).
( sleep 60; kill $forwarder 2>/dev/null ) &
wait $forwarder
cd /
# Killed by a signal: the kernel may say why (a segfault, the OOM killer).
if [ $status -gt 128 ]; then
  dmesg | tail -n 5 | while IFS= read -r line; do echo "${STDERR} rtlat lab: the lab host's kernel: $line" >&3; done
fi

if command -v xl >/dev/null; then
  xl list 2>/dev/null | awk 'NR > 1 && $1 != "Domain-0" { print "domain " $1 }' | while IFS= read -r left; do echo "${LEFT} $left" >&3; done
fi
ps -o pid,comm | awk '$2 ~ /qemu/ { print "process " $2 " (pid " $1 ")" }' | while IFS= read -r left; do echo "${LEFT} $left" >&3; done

${SEND_FUNCTION}snapshot > /tmp/.lab-after
grep -vxF -f /tmp/.lab-before /tmp/.lab-after | while IFS= read -r line; do send "\${line#* }" "\${line#* }"; done
send ${STDOUT_NAME} /tmp/.lab-stdout
echo "${EXIT} $status" >&3
read -t 60 -n 1 ack <&3
poweroff -f
`;
}
