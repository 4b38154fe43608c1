#!/usr/bin/env bash
# Drive the BUNDLED app (dist/mto-studio/mto-studio-gui) on a private Xvfb display and photograph it training:
# fresh HOME (so the app creates and opens the embedded default project: mto-tiny + the built-in world), Ctrl+4 for
# the Trainer, seeds "0", a short run length and an evaluation every 20 steps (the default grid: sup and unsup-nat
# x k = 8, 32, full: 6 runs), Start, wait for the experiment's report.md (it is written when the experiment ends),
# grab the screen.
#
#   packaging/linux/screenshot_training.sh [OUT.png]      (default resources/screenshots/bundle-training.png)
#   MTO_SHOT_STEPS=60 MTO_SHOT_WAIT=300                   steps per run; the most seconds to wait for the end
#   MTO_SHOT_AFTER=S                                      grab after S seconds of training instead (mid-run picture)
#
# Needs Xvfb, xdotool and ImageMagick's `import` (apt-get install xvfb xdotool imagemagick). The click positions are
# those of the Trainer's form in a 1600x1000 window at 0,0 (the size the app opens at on a 1600x1000 screen with no
# window manager), checked on screenshots of the bundle; move them with the form. The app runs with no Python
# environment (env -i), as a user's would. Takes about a minute on 2 cores (6 x 60 steps train in ~40 s).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-resources/screenshots/bundle-training.png}
steps=${MTO_SHOT_STEPS:-60}
wait_s=${MTO_SHOT_WAIT:-300}
after_s=${MTO_SHOT_AFTER:-}
app=$PWD/dist/mto-studio/mto-studio-gui
[[ -x $app ]] || { echo "screenshot_training: build the bundle first (packaging/build_linux.sh)" >&2; exit 1; }
for n in $(seq 61 99); do [[ -e /tmp/.X$n-lock ]] || break; done
export DISPLAY=:$n
home=$(mktemp -d /tmp/mto-shot-home.XXXXXX)
Xvfb "$DISPLAY" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
app_pid=""
cleanup() { [[ -n $app_pid ]] && kill "$app_pid" 2>/dev/null; kill "$xvfb" 2>/dev/null; rm -rf "$home"; }
trap cleanup EXIT
sleep 1
env -i PATH=/usr/bin:/bin HOME="$home" DISPLAY="$DISPLAY" "$app" > "$home.log" 2>&1 &
app_pid=$!
wid=$(timeout 120 xdotool search --sync --onlyvisible --name "MTO Studio" | head -1)
echo "screenshot_training: window $wid on $DISPLAY; waiting for the project to load"
sleep 6
click() { xdotool mousemove "$1" "$2" click 1; sleep 0.3; }
set_field() { click "$1" "$2"; xdotool key ctrl+a; xdotool type --delay 40 "$3"; xdotool key Tab; sleep 0.3; }
xdotool windowfocus "$wid"
xdotool key ctrl+4                          # the Trainer workbench
sleep 3
set_field 363 390 "0"                       # Seeds
set_field 392 517 "$steps"                  # Steps per run
set_field 392 617 "20"                      # Evaluate every
click 199 910                               # Start
experiments="$home/.local/share/MTO Studio/default-project/experiments"
if [[ -n $after_s ]]; then
  echo "screenshot_training: training for ${after_s} s"
  sleep "$after_s"
else
  echo "screenshot_training: training (at most ${wait_s} s, until the experiment's report.md appears)"
  for _ in $(seq "$wait_s"); do
    compgen -G "$experiments/*/report.md" >/dev/null && break
    sleep 1
  done
  compgen -G "$experiments/*/report.md" >/dev/null || {
    echo "screenshot_training: no report.md after ${wait_s} s (did Start get clicked? see $home.log)" >&2; exit 1; }
  sleep 3                                   # the result table and the k-shot chart update
fi
mkdir -p "$(dirname "$out")"
import -window root "$out"
echo "screenshot_training: $out"
tail -3 "$home.log" || true
rm -f "$home.log"
