#!/bin/sh
# Install memedge (or memgateway) from a memproxy release, checking its
# SHA-256 against the release's SHA256SUMS before anything is installed.
#
#   sh install.sh --from URL_OR_DIR [--version V] [--dir DIR] [--binary memedge|memgateway]
#
# --from is the release: an https:// base URL or a directory holding the
# files make release writes (binaries named NAME_VERSION_OS_ARCH and
# SHA256SUMS). --version defaults to the one named in SHA256SUMS. --dir
# defaults to ~/.local/bin. Nothing is installed when a check fails.
set -eu

from= version= dir="$HOME/.local/bin" binary=memedge
while [ $# -gt 0 ]; do
  case "$1" in
    --from) from=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$from" ] || { echo "install.sh: --from URL_OR_DIR is required" >&2; exit 2; }
case "$binary" in memedge|memgateway) ;; *) echo "install.sh: --binary is memedge or memgateway" >&2; exit 2 ;; esac

case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) echo "install.sh: $(uname -s) is not supported here; on Windows download memedge_VERSION_windows_amd64.exe and check it with Get-FileHash" >&2; exit 1 ;;
esac
case "$(uname -m)" in
  x86_64|amd64) arch=amd64 ;;
  arm64|aarch64) arch=arm64 ;;
  *) echo "install.sh: no release for $(uname -m)" >&2; exit 1 ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fetch() { # fetch NAME: copy or download a release file into $tmp
  case "$from" in
    https://*) curl -fsSL --proto '=https' -o "$tmp/$1" "$from/$1" ;;
    http://*) echo "install.sh: refusing plain http for a release; use https:// or a directory" >&2; exit 1 ;;
    *) cp "$from/$1" "$tmp/$1" ;;
  esac
}
fetch SHA256SUMS
if [ -z "$version" ]; then
  version=$(sed -n "s/^[0-9a-f]\{64\}  ${binary}_\(.*\)_${os}_${arch}\$/\1/p" "$tmp/SHA256SUMS" | head -n 1)
  [ -n "$version" ] || { echo "install.sh: SHA256SUMS lists no $binary for $os/$arch" >&2; exit 1; }
fi
name=${binary}_${version}_${os}_${arch}
want=$(awk -v n="$name" '$2 == n { print $1 }' "$tmp/SHA256SUMS")
[ -n "$want" ] || { echo "install.sh: SHA256SUMS has no entry for $name" >&2; exit 1; }
fetch "$name"
if command -v sha256sum >/dev/null 2>&1; then
  got=$(sha256sum "$tmp/$name" | cut -d' ' -f1)
else
  got=$(shasum -a 256 "$tmp/$name" | cut -d' ' -f1)
fi
if [ "$got" != "$want" ]; then
  echo "install.sh: checksum mismatch for $name: SHA256SUMS says $want, the file is $got; nothing installed" >&2
  exit 1
fi
mkdir -p "$dir"
chmod 0755 "$tmp/$name"
mv "$tmp/$name" "$dir/$binary"
echo "installed $binary $version ($os/$arch, sha256 $got) to $dir/$binary"
case ":$PATH:" in *":$dir:"*) ;; *) echo "note: $dir is not on your PATH" ;; esac
