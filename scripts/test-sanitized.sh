#!/usr/bin/env bash
# Builds the addon under AddressSanitizer + UndefinedBehaviorSanitizer (native/CMakeLists.txt, with
# cmake-js, into build-sanitize/) and runs the engine tests (and the addon's own checks) against it. Fails on a failing test and
# on any sanitizer report from any process of the run (vitest, its workers, the tests' children).
#
#   scripts/test-sanitized.sh [extra vitest arguments]
#
# Needs g++ and cmake, and libasan8/libubsan1 (both come with g++ 12 through libgcc-12-dev).
# Run as root like the other engine tests, or the real-time half of them is skipped.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=build-sanitize
addon="$root/$out/Release/rtlat.node"
# The local tools themselves, not npx: inside `npm exec -c` a nested npx misreads its arguments.
bin="$root/node_modules/.bin"

# cmake-js takes Node's headers from npm's nodedir (npm_config_nodedir, which npm/npx export from
# .npmrc) and downloads them only without one; this machine has no access to nodejs.org. Default to
# the running node's own prefix, whose include/node holds the headers of exactly this node.
if [[ -z "${npm_config_nodedir:-}" ]]; then
  npm_config_nodedir=$(node -p 'require("path").resolve(process.execPath, "../..")')
fi
if [[ ! -f "$npm_config_nodedir/include/node/node_api.h" ]]; then
  echo "test-sanitized: no Node headers in $npm_config_nodedir/include/node (set npm_config_nodedir)" >&2
  exit 1
fi
export npm_config_nodedir

if [[ $(id -u) -ne 0 ]]; then
  echo "test-sanitized: warning: not root, so the engine tests that measure are skipped" >&2
fi

echo "test-sanitized: building $out/ (ASan + UBSan)"
"$bin/cmake-js" build --log-level warn -d native --out "$out" --CDRTLAT_SANITIZE=ON
# Some tests load dist/ in child processes.
"$bin/tsc" -p tsconfig.build.json

libasan=$(gcc -print-file-name=libasan.so)
if [[ "$libasan" != /* || ! -e "$libasan" ]]; then
  echo "test-sanitized: gcc knows no libasan.so (install g++ / libgcc-12-dev)" >&2
  exit 1
fi

# The reports go to a temporary folder, removed at the end (they are printed below when they fail
# the run): some tests run their child node as nobody, who may not reach a clone under a 0700 folder.
reports=$(mktemp -d "${TMPDIR:-/tmp}/rtlat-sanitize-XXXXXX")
trap 'rm -rf "$reports"' EXIT
chmod 1777 "$reports"

# Reports go to files, one per process, so none hides in a child's captured stderr.
# Memory and UB errors abort the process on the spot (abort_on_error). Leak checking stays on, but
# with exitcode=0 a leak never fails a process by itself: Node and V8 leave memory behind at exit
# in every process, so the leak reports are sorted below, and only those reaching into the addon
# fail the run.
export RTLAT_ADDON="$addon"
export RTLAT_SANITIZER=address,undefined  # lets a test skip what ASan changes (mlock is a no-op)
export ASAN_OPTIONS="log_path=$reports/asan:abort_on_error=1:exitcode=0:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:handle_abort=1"
export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1:abort_on_error=1"

status=0
# libasan must come first in the process: a sanitized .node loaded into an unsanitized node.
LD_PRELOAD="$libasan${LD_PRELOAD:+:$LD_PRELOAD}" "$bin/vitest" run test/engine.test.ts test/engine-claims.test.ts test/engine-extremes.test.ts test/native-boundary.test.ts "$@" || status=$?

shopt -s nullglob
logs=("$reports"/*)
errors=0
for log in "${logs[@]}"; do
  if grep -qE 'ERROR: AddressSanitizer|runtime error:|ERROR: UndefinedBehaviorSanitizer' "$log"; then
    echo "test-sanitized: sanitizer report in $log:" >&2
    cat "$log" >&2
    errors=$((errors + 1))
  fi
done

# Leak records (paragraphs) whose allocation stack goes through the addon: its sources, its module,
# or node-addon-api's inline code, which only the addon contains in these processes.
addon_leaks=$(awk -v native="$root/native/" -v module="$addon" '
  BEGIN { RS = "" }
  /^Direct leak|^Indirect leak/ && (index($0, native) || index($0, module) || index($0, "node-addon-api/napi")) { print; print "" }
' /dev/null "${logs[@]}")
if [[ -n "$addon_leaks" ]]; then
  echo "test-sanitized: memory leaked by the addon:" >&2
  echo "$addon_leaks" >&2
  errors=$((errors + 1))
fi
other_leaks=$(cat /dev/null "${logs[@]}" | grep -cE '^(Direct|Indirect) leak' || true)

if ((status != 0)); then
  echo "test-sanitized: FAILED: vitest exited with $status" >&2
  exit "$status"
fi
if ((errors != 0)); then
  echo "test-sanitized: FAILED: sanitizer reports (above)" >&2
  exit 1
fi
echo "test-sanitized: no sanitizer reports ($other_leaks leak records, none through the addon: Node/V8's own at exit)"
