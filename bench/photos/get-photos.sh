#!/usr/bin/env bash
# Real camera photos for the pipeline benchmark: the 12 nature photos of Debian's mate-backgrounds package
# (GPL-2+; 1280x1024 to 2560x1920 JPEGs, 3.1 MP on average), unpacked without installing the package.
# They are not committed. usage: bench/photos/get-photos.sh [DIR]   (default bench/results/tmp/photos)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/bench/results/tmp/photos}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download mate-backgrounds >/dev/null 2>&1 || { echo "apt-get download mate-backgrounds failed (a fresh machine may need apt-get update first)" >&2; exit 1; })
dpkg-deb -x "$work"/mate-backgrounds_*.deb "$work/x"
mkdir -p "$out"
cp "$work"/x/usr/share/backgrounds/mate/nature/*.jpg "$out"/
ls "$out" | wc -l | xargs echo "photos in $out:"
