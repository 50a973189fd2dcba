#!/usr/bin/env bash
# Fetches Debian's cloud (non-RT) and PREEMPT_RT kernels for the guest tests: `apt-get download` of
# the image package the meta-package currently depends on, unpacked with `dpkg -x`. Only the kernel,
# its config and the one module a Xen HVM guest loads (xen-blkfront, in modules/VERSION as under
# /lib/modules) are kept. A kernel already in the cache is not fetched again, so a warm cache needs no
# network.
#
#   scripts/fetch-kernels.sh [CACHE_DIR]     (default: $RTLAT_TEST_CACHE or ~/.cache/rtlat-test)
#
# Leaves CACHE_DIR/kernels/vmlinuz-cloud and CACHE_DIR/kernels/vmlinuz-rt (symlinks to the versioned
# files, each with a config-* beside it and its modules in modules/VERSION, linked as modules-cloud
# and modules-rt) and prints their paths as rtlat matrix's --kernels value.
# Needs apt-get and dpkg (a Debian or Ubuntu machine with Debian's archive in its sources).
set -euo pipefail

cache=${1:-${RTLAT_TEST_CACHE:-$HOME/.cache/rtlat-test}}
kernels="$cache/kernels"
mkdir -p "$kernels"

fetch() {
  local flavour=$1
  local package
  # The meta-package linux-image-FLAVOUR-amd64 depends on exactly one versioned image package.
  package=$(apt-cache depends "linux-image-$flavour-amd64" 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
  if [[ -z "$package" ]]; then
    echo "fetch-kernels: apt knows no linux-image-$flavour-amd64 (is Debian's archive in the apt sources? run apt-get update)" >&2
    exit 1
  fi
  local version=${package#linux-image-}
  local target="$kernels/vmlinuz-$version"
  local modules="$kernels/modules/$version"
  if [[ ! -f "$target" || ! -d "$modules" ]]; then
    local work
    work=$(mktemp -d "$kernels/.fetch-XXXXXX")
    # apt-get download writes into the current directory; as root it warns that _apt cannot read it.
    (cd "$work" && apt-get download -qq "$package" 2>&1 | grep -v 'unsandboxed as root' >&2 || true)
    local deb
    deb=$(find "$work" -maxdepth 1 -name '*.deb' -print -quit)
    if [[ -z "$deb" ]]; then
      rm -rf "$work"
      echo "fetch-kernels: apt-get download $package failed" >&2
      exit 1
    fi
    dpkg -x "$deb" "$work/root"
    cp "$work/root/boot/config-$version" "$kernels/config-$version"
    local from="$work/root/lib/modules/$version"
    mkdir -p "$work/modules/kernel/drivers/block"
    cp "$from/modules.builtin" "$work/modules/"
    if [[ -f "$from/kernel/drivers/block/xen-blkfront.ko" ]]; then cp "$from/kernel/drivers/block/xen-blkfront.ko" "$work/modules/kernel/drivers/block/"; fi
    # Renamed into place last: an interrupted fetch never leaves a kernel that looks complete.
    mkdir -p "$kernels/modules"
    rm -rf "$modules"
    mv "$work/modules" "$modules"
    mv "$work/root/boot/vmlinuz-$version" "$target"
    rm -rf "$work"
  fi
  ln -sfn "vmlinuz-$version" "$kernels/vmlinuz-$flavour"
  ln -sfn "modules/$version" "$kernels/modules-$flavour"
}

fetch cloud
fetch rt
echo "nrt=$kernels/vmlinuz-cloud,rt=$kernels/vmlinuz-rt"
