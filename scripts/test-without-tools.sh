#!/usr/bin/env bash
# Runs `npm test` as on a Debian 12 machine that has none of the optional tools the tests can use
# (cyclictest, Java and HdrHistogram's jar, QEMU, busybox, cpio, Chromium, podman, runc, debootstrap,
# Prometheus, stress-ng, SciPy, R), and checks that it passes with every test that needs one of them
# skipped, the missing tool named in its title, and that it leaves nothing in /tmp.
#
#   scripts/test-without-tools.sh [extra vitest arguments]
#
# The tools are not uninstalled: in a mount namespace of its own, /usr is covered with an overlay in
# which every file of their Debian packages is deleted, so that the tests and everything they start
# find them absent, as on a machine that never had them, while the rest of this machine (the kernel,
# its real-time scheduling, /dev/cpu_dma_latency, tracefs) stays as it is. Nothing outside the
# namespace changes. /tmp is an empty folder of its own there, so that what the run leaves in it is
# seen, apart from what others on this machine put in the real one. PATH is Debian's without /usr/local (empty on a fresh machine) and without the
# home's tool installs; the variables that point the tests at tools or images (RTLAT_TEST_KERNELS,
# RTLAT_TEST_BASE_IMAGE, RTLAT_REQUIRE_TOOLS) are unset.
# Needs root, unshare (util-linux), overlayfs and dpkg; run it from a clone that `npm ci` has set up.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
if [[ $(id -u) -ne 0 ]]; then
  echo "test-without-tools: needs root (a mount namespace and an overlay on /usr)" >&2
  exit 1
fi

# The packages of the optional tools; those not installed here are already absent.
packages=(
  rt-tests default-jre-headless openjdk-17-jre-headless libhdrhistogram-java
  qemu-system-x86 qemu-system-common qemu-system-data busybox-static busybox cpio
  chromium chromium-common podman runc crun debootstrap prometheus stress-ng
  python3-scipy r-base-core r-cran-evd
)

work=$(mktemp -d "${TMPDIR:-/tmp}/rtlat-without-tools-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/upper" "$work/overlay-work" "$work/tmp" "$root/test-artifacts"
chmod 1777 "$work/tmp"
results="$root/test-artifacts/test-without-tools.json"
rm -f "$results"

# What to delete: every file of those packages, and every folder that only they own (with what was
# made in it after installation, such as Python's byte code), by its real place under /usr (with
# merged /usr, dpkg lists some as /bin/...). Files elsewhere (/etc) are left: without the rest they are inert.
installed=()
for package in "${packages[@]}"; do
  if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then installed+=("$package"); fi
done
under_usr() {
  while IFS= read -r entry; do
    if [[ ! -e "$entry" && ! -L "$entry" ]]; then continue; fi
    dir=$(readlink -f "$(dirname "$entry")")
    if [[ "$dir" == /usr || "$dir" == /usr/* ]]; then printf '%s\n' "$dir/$(basename "$entry")"; fi
  done
}
: >"$work/hidden"
if ((${#installed[@]} > 0)); then
  dpkg -L "${installed[@]}" | sort -u >"$work/listed"
  # Everything the other packages list (their folders included), to keep the folders they share.
  for list in /var/lib/dpkg/info/*.list; do
    name=${list##*/}
    name=${name%.list}
    if [[ " ${installed[*]} " != *" ${name%%:*} "* ]]; then cat "$list"; fi
  done | sort -u >"$work/others"
  while IFS= read -r entry; do
    if [[ -d "$entry" && ! -L "$entry" ]]; then continue; fi
    printf '%s\n' "$entry"
  done <"$work/listed" | under_usr >"$work/hidden"
  comm -23 "$work/listed" "$work/others" | while IFS= read -r entry; do
    if [[ -d "$entry" && ! -L "$entry" ]]; then printf '%s\n' "$entry"; fi
  done | under_usr >>"$work/hidden"
  sort -u -o "$work/hidden" "$work/hidden"
fi
echo "test-without-tools: hiding $(wc -l <"$work/hidden") files and folders of: ${installed[*]:-nothing}" >&2

status=0
unshare --mount --propagation private -- env WORK="$work" ROOT="$root" RESULTS="$results" bash -s -- "$@" <<'INNER' || status=$?
set -euo pipefail
mount -t overlay overlay -o "lowerdir=/usr,upperdir=$WORK/upper,workdir=$WORK/overlay-work" /usr
# Only ever delete through the overlay: each deletion is a whiteout in $WORK/upper.
[[ $(findmnt -n -o FSTYPE --target /usr) == overlay ]] || { echo "test-without-tools: no overlay on /usr" >&2; exit 1; }
xargs -r -d '\n' rm -rf <"$WORK/hidden"
# Debian's own PATH, without /usr/local and the home's tool installs (pyenv, cargo, ...), empty on a fresh machine.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
for tool in cyclictest java qemu-system-x86_64 busybox cpio chromium podman runc debootstrap prometheus stress-ng Rscript; do
  if command -v "$tool" >/dev/null; then echo "test-without-tools: $tool is still there" >&2; exit 1; fi
done
if python3 -c 'import scipy' 2>/dev/null; then echo "test-without-tools: scipy is still there" >&2; exit 1; fi
# From here on /tmp is $WORK/tmp: the real /tmp, $WORK's path included, is out of reach, except a
# clone that lives in it, kept at its path.
if [[ "$ROOT" == /tmp/* ]]; then
  mkdir -p "$WORK/tmp/${ROOT#/tmp/}"
  mount --bind "$ROOT" "$WORK/tmp/${ROOT#/tmp/}"
fi
mount --rbind "$WORK/tmp" /tmp
unset TMPDIR
cd "$ROOT"
env -u RTLAT_TEST_KERNELS -u RTLAT_TEST_BASE_IMAGE -u RTLAT_REQUIRE_TOOLS \
  npm test -- --reporter=default --reporter=json --outputFile.json="$RESULTS" "$@"
INNER

# What the run left in its /tmp (the folder that held a clone in /tmp aside).
kept=""
if [[ "$root" == /tmp/* ]]; then kept=${root#/tmp/}; kept=${kept%%/*}; fi
left=$(ls -A "$work/tmp" | grep -v -x -F "${kept:-/}" || true)
if [[ -n "$left" ]]; then
  echo "test-without-tools: the run left in /tmp:" $left >&2
  status=1
fi

# Every skipped test must say what it needs.
node -e '
  const results = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const tests = results.testResults.flatMap((file) => file.assertionResults);
  const skipped = tests.filter((test) => test.status === "pending" || test.status === "skipped");
  const unexplained = skipped.filter((test) => !/\(needs [^)]+\)/.test(test.fullName));
  const needs = new Map();
  for (const test of skipped) {
    // The innermost reason: that of the test itself, not of its describe block.
    const note = [...test.fullName.matchAll(/\(needs ([^:)]+)/g)].at(-1)?.[1] ?? "(no reason given)";
    needs.set(note, (needs.get(note) ?? 0) + 1);
  }
  for (const [note, count] of needs) console.log(`skipped ${count}: needs ${note}`);
  console.log(`${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped.length} skipped`);
  for (const test of unexplained) console.log(`skipped without naming what it needs: ${test.fullName}`);
  process.exit(unexplained.length > 0 || results.numFailedTests > 0 || results.numFailedTestSuites > 0 ? 1 : 0);
' "$results" || status=1
exit "$status"
