#!/usr/bin/env bash
# Makes a local base image for the Dockerfile where no image can be pulled: a minimal Debian bookworm
# (debootstrap --variant=minbase, from the mirror this machine's apt uses) with this machine's own Node
# copied in (the node binary, npm and Node's headers, which node-gyp needs to build the addon without
# downloading them), imported into podman.
#
#   scripts/make-base-image.sh [IMAGE] [CACHE_DIR]
#     IMAGE      default localhost/rtlat-base:bookworm-node<major>
#     CACHE_DIR  default $RTLAT_TEST_CACHE or ~/.cache/rtlat-test
#
# The root file system is kept as CACHE_DIR/container/<image name>-<node version>.tar, so a later run
# (e.g. after `podman system reset`) only imports it again. Prints the image name.
# Needs root, debootstrap and podman (PODMAN may add options, e.g. "podman --runtime runc").
set -euo pipefail

node_bin=$(readlink -f "$(command -v node)")
node_version=$(node -p 'process.versions.node')
image=${1:-localhost/rtlat-base:bookworm-node${node_version%%.*}}
cache=${2:-${RTLAT_TEST_CACHE:-$HOME/.cache/rtlat-test}}
podman=${PODMAN:-podman}
tarball="$cache/container/$(basename "${image%%:*}")-${image##*:}-$node_version.tar"

if $podman image exists "$image" 2>/dev/null && [[ -f "$tarball" ]]; then
  echo "$image"
  exit 0
fi

if [[ ! -f "$tarball" ]]; then
  # The first deb822 "URIs:" or one-line "deb" entry that points at Debian's main archive.
  mirror=$(shopt -s nullglob; cat /dev/null /etc/apt/sources.list /etc/apt/sources.list.d/*.{list,sources} 2>/dev/null |
    awk '($1 == "URIs:" || $1 == "deb") && $2 ~ /\/debian\/?$/ { print $2; exit }' || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  mkdir -p "$cache/container"
  root=$(mktemp -d "$cache/container/.rootfs-XXXXXX")
  trap 'rm -rf "$root"' EXIT
  echo "make-base-image: debootstrap bookworm from $mirror" >&2
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
    tail -n 20 "$root.log" >&2
    exit 1
  }
  rm -f "$root.log"

  # Node from its install prefix (/usr for Debian's or NodeSource's package, /usr/local for the
  # official tarball): the binary, npm, and include/node.
  prefix=$(dirname "$(dirname "$node_bin")")
  install -D -m 0755 "$node_bin" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules" "$root/usr/local/include"
  cp -a "$prefix/lib/node_modules/npm" "$root/usr/local/lib/node_modules/"
  cp -a "$prefix/include/node" "$root/usr/local/include/"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  # Libraries node links that minbase lacks (usually none: libstdc++ comes with apt).
  for library in $(ldd "$node_bin" | grep -oE '/[^ ]+\.so[^ ]*'); do
    [[ -e "$root$library" ]] || install -D "$library" "$root$library"
  done
  chroot "$root" /usr/local/bin/node --version >/dev/null

  # Trimmed like Debian's own slim images: no apt lists, no docs.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
  tar --numeric-owner -C "$root" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
fi

$podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' \
  "$tarball" "$image" >/dev/null
echo "$image"
