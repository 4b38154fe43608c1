#!/usr/bin/env bash
# Install MTO Studio into ./.venv (idempotent): Qt's system libraries (Debian/Ubuntu, when root or with sudo),
# a virtual environment, and the pinned Python packages from constraints.txt.
#   scripts/setup.sh          the app
#   scripts/setup.sh --dev    the app and the test tools
#   scripts/setup.sh --cluster  also Ray, for the ray backend (combine: --dev --cluster)
# Environment: PYTHON=python3.12 picks the interpreter; MTO_KEEP_TORCH=1 keeps a torch you installed yourself
# (CUDA, ROCm) instead of the pinned CPU build.
set -euo pipefail
cd "$(dirname "$0")/.."
names=()
for arg in "$@"; do
  case "$arg" in
    --dev) names+=(dev) ;;
    --package) names+=(dev package) ;;
    --cluster) names+=(cluster) ;;
    *) echo "setup: unknown option $arg (use --dev, --package, --cluster)" >&2; exit 2 ;;
  esac
done
extras=""
if [[ ${#names[@]} -gt 0 ]]; then extras="[$(IFS=,; echo "${names[*]}")]"; fi
python="${PYTHON:-python3}"

# 1. System libraries Qt needs even offscreen (fonts, GL, xkb, xcb for a real display).
qt_debs="libegl1 libgl1 libglib2.0-0 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0 libdbus-1-3 libxcb-cursor0
 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0
 fonts-dejavu-core"
if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  missing=$(for p in $qt_debs; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"; done)
  if [[ -n "$missing" ]]; then
    sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    if [[ -z "$sudo" ]] || command -v sudo >/dev/null 2>&1; then
      echo "setup: installing system packages for Qt: $(echo $missing)"
      $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
      echo "setup: please install these system packages for Qt: $(echo $missing)" >&2
    fi
  fi
fi

# 2. The virtual environment.
[[ -x .venv/bin/python ]] || "$python" -m venv .venv
# 3. Python packages, pinned. Skipped when nothing changed since the last successful install.
constraints=constraints.txt
if [[ "${MTO_KEEP_TORCH:-}" == "1" ]]; then
  grep -v '^torch==' constraints.txt > .venv/constraints-keep-torch.txt; constraints=.venv/constraints-keep-torch.txt
fi
stamp=".venv/.mto-installed"
want="$(cat pyproject.toml "$constraints" | sha256sum | cut -c1-16) $extras"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -c "$constraints" -e ".${extras}"
  echo "$want" > "$stamp"
fi
echo "setup: ready ($(.venv/bin/python -c 'import mto_studio; print("mto-studio", mto_studio.__version__)'))"
