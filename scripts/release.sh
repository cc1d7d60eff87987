#!/usr/bin/env bash
# make release: build memedge for every laptop (macOS, Linux, Windows) and
# memgateway for Linux servers into dist/VERSION/, stamped with VERSION,
# with SHA256SUMS and the install script that checks them.
#
#   scripts/release.sh VERSION
#
# memedge needs no cgo and cross-compiles anywhere. memgateway embeds SQLite
# (cgo): linux/amd64 needs gcc, linux/arm64 the Debian cross compiler
# (apt-get install gcc-aarch64-linux-gnu); the script stops before building
# anything when one is missing, and says which.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${1:?usage: scripts/release.sh VERSION}
OUT=dist/$VERSION
GO=${GO:-go}
PKG=github.com/memproxy/memproxy
LDFLAGS="-s -w -X $PKG/internal/version.Version=$VERSION"
EDGE_TARGETS="darwin/arm64 darwin/amd64 linux/amd64 linux/arm64 windows/amd64"
GATEWAY_TARGETS="linux/amd64 linux/arm64"

# The C compiler for memgateway on each target, from this machine.
cc_for() {
  case "$1" in
    linux/amd64) if [ "$(uname -m)" = x86_64 ]; then echo gcc; else echo x86_64-linux-gnu-gcc; fi ;;
    linux/arm64) if [ "$(uname -m)" = aarch64 ]; then echo gcc; else echo aarch64-linux-gnu-gcc; fi ;;
  esac
}
apt_pkg() {
  case "$1" in
    gcc) echo gcc ;;
    x86_64-linux-gnu-gcc) echo gcc-x86-64-linux-gnu ;;
    aarch64-linux-gnu-gcc) echo gcc-aarch64-linux-gnu ;;
  esac
}
missing=()
for t in $GATEWAY_TARGETS; do
  cc=$(cc_for "$t")
  command -v "$cc" >/dev/null || missing+=("$(apt_pkg "$cc")")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "make release: memgateway needs C cross compilers that are not installed." >&2
  echo "  apt-get install ${missing[*]}" >&2
  exit 1
fi

rm -rf "$OUT"
mkdir -p "$OUT"
for t in $EDGE_TARGETS; do
  os=${t%/*} arch=${t#*/} ext=
  [ "$os" = windows ] && ext=.exe
  echo "memedge    $t"
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch $GO build -trimpath -ldflags "$LDFLAGS" \
    -o "$OUT/memedge_${VERSION}_${os}_${arch}${ext}" ./cmd/memedge
done
for t in $GATEWAY_TARGETS; do
  os=${t%/*} arch=${t#*/}
  echo "memgateway $t (CC=$(cc_for "$t"))"
  CGO_ENABLED=1 CC=$(cc_for "$t") GOOS=$os GOARCH=$arch $GO build -trimpath -tags sqlite_fts5 -ldflags "$LDFLAGS" \
    -o "$OUT/memgateway_${VERSION}_${os}_${arch}" ./cmd/memgateway
done
cp scripts/install.sh "$OUT/install.sh"
(cd "$OUT" && sha256sum memedge_* memgateway_* install.sh > SHA256SUMS)
echo
echo "release $VERSION in $OUT:"
(cd "$OUT" && ls -l | tail -n +2)
