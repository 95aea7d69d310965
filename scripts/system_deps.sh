#!/usr/bin/env bash
# System libraries for a real Qt window (xcb platform), and the X server and the PostgreSQL
# server (tests/pgserver.py starts a throw-away one) used by the tests.
# Installs them with apt-get when run as root; otherwise prints the command to run.
set -uo pipefail
PKGS="xvfb xdotool libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libxkbcommon0 libegl1 libgl1 libfontconfig1 libdbus-1-3 fonts-dejavu-core postgresql"
missing=""
for p in $PKGS; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing system packages:$missing" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing) >/dev/null \
    || echo "warning: could not install:$missing" >&2
else
  echo "missing system packages for the Qt window and the X tests:$missing" >&2
  echo "install them with: sudo apt-get install$missing" >&2
fi
