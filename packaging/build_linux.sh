#!/usr/bin/env bash
# Build the Linux bundle of MTO Studio and check it:
#   1. a fresh build venv (build/bundle-venv, never the dev .venv) with the project installed non-editably from
#      constraints.txt: pip install -c constraints.txt ".[package]"
#   2. PyInstaller one-folder bundle: dist/mto-studio/{mto-studio,mto-studio-gui,_internal/}
#   3. dist/mto-studio-<version>-linux-x86_64.tar.gz with a .desktop file, the icon (SVG + PNG) and an installer
#      for the desktop entry
#   4. the bundle's --self-test with no Python environment on PATH (env -i), then again from the unpacked tarball
#   5. the bundle size (and its largest parts) and the time to a visible window under Xvfb: first launch in a fresh
#      HOME, a second launch, and a cold launch (the bundle's files evicted from the page cache)
#
# Usage: packaging/build_linux.sh            (from anywhere; about 6.5 min on 2 cores, ~5 GB free disk needed)
# Environment:
#   PYTHON=python3.11          the interpreter for the build venv (needs a shared libpython, as PyInstaller does)
#   MTO_REUSE_VENV=1           keep build/bundle-venv when it exists and its inputs did not change (local rebuilds)
#   MTO_TORCH_INDEX=URL        install torch from this index first, e.g. https://download.pytorch.org/whl/cpu where
#                              no local CPU wheel is configured (PyPI's Linux torch is the CUDA build), or
#                              https://download.pytorch.org/whl/cu128 for a CUDA bundle (with MTO_BUNDLE_CUDA=1)
#   MTO_BUNDLE_CUDA=1          allow CUDA libraries in the bundle (the default build fails if it finds any)
#   MTO_SKIP_CHECKS=1          build and package only (no self-test, no start-time probe)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
start=$SECONDS
python="${PYTHON:-python3}"
version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' mto_studio/__init__.py)
arch=$(uname -m)
venv=build/bundle-venv
bundle=dist/mto-studio
tarball=dist/mto-studio-${version}-linux-${arch}.tar.gz
report=build/bundle-report.txt
log() { echo "build_linux: $*"; }
step() { log "[$((SECONDS - start)) s] $*"; }
# pip's output goes to build/bundle-pip.log; its tail is shown when it fails.
pip_quiet() {
  if ! $venv/bin/python -m pip install --disable-pip-version-check --progress-bar off "$@" >> build/bundle-pip.log 2>&1; then
    tail -30 build/bundle-pip.log >&2; log "pip install $* failed (build/bundle-pip.log)" >&2; exit 1
  fi
}

[[ -f resources/models/mto-tiny/config.json ]] || {
  log "resources/models/mto-tiny is missing: the embedded model must be in the source tree" >&2; exit 1; }

# 1. The build venv: fresh unless asked to reuse an up-to-date one. (setuptools builds the wheel through build/lib,
# where a stale copy would bring back deleted modules.)
mkdir -p build
rm -rf build/lib build/bdist.* build/bundle-pip.log
want="$("$python" --version 2>&1) $(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16) ${MTO_TORCH_INDEX:-}"
if [[ "${MTO_REUSE_VENV:-}" == "1" && -x $venv/bin/pyinstaller && "$(cat $venv/.mto-bundle-venv 2>/dev/null)" == "$want" ]]; then
  step "reusing $venv"
  # the project itself may have changed: reinstall it alone
  pip_quiet --no-deps --force-reinstall .
else
  step "creating a fresh build venv in $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  if [[ -n "${MTO_TORCH_INDEX:-}" ]]; then
    step "torch from $MTO_TORCH_INDEX"
    pip_quiet -c constraints.txt torch --index-url "$MTO_TORCH_INDEX"
  fi
  step "installing the project (non-editable) with constraints.txt"
  pip_quiet -c constraints.txt ".[package]"
  echo "$want" > $venv/.mto-bundle-venv
fi
$venv/bin/python -c 'import torch, PyInstaller; print("build_linux: torch", torch.__version__, "CUDA", torch.version.cuda, "| PyInstaller", PyInstaller.__version__)'

# 2. Icons, then the bundle.
step "rendering the icon"
QT_QPA_PLATFORM=offscreen $venv/bin/python packaging/render_icon.py build/icons >/dev/null
step "running PyInstaller (log: build/pyinstaller.log)"
rm -rf "$bundle" build/pyinstaller
pyi_start=$SECONDS
if ! $venv/bin/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller \
    packaging/pyinstaller/mto_studio.spec > build/pyinstaller.log 2>&1; then
  tail -40 build/pyinstaller.log >&2
  log "PyInstaller failed" >&2
  exit 1
fi
pyi_seconds=$((SECONDS - pyi_start))
grep -E "mto_studio.spec:" build/pyinstaller.log || true

# What must not be in the bundle: tests and (for the CPU build) CUDA libraries.
cuda=$(find "$bundle" \( -iname 'libcu*' -o -iname 'libnv*' -o -iname 'libcudnn*' -o -iname 'libnccl*' \
        -o -iname '*torch_cuda*' -o -iname 'libc10_cuda*' -o -path '*/nvidia/*' \) -print | head -5)
if [[ -n "$cuda" && "${MTO_BUNDLE_CUDA:-}" != "1" ]]; then
  log "CUDA libraries in a CPU bundle (set MTO_BUNDLE_CUDA=1 for a CUDA build):" >&2; echo "$cuda" >&2; exit 1
fi
tests=$(find "$bundle" \( -path '*/tests/*' -o -path '*/torch/test/*' -o -name 'test_*.so' \) -print | head -5)
if [[ -n "$tests" ]]; then log "test files in the bundle:" >&2; echo "$tests" >&2; exit 1; fi

# 3. Desktop integration and the tarball.
cp build/icons/mto-studio.png "$bundle/mto-studio.png"
cp resources/icons/mto-studio.svg "$bundle/mto-studio.svg"
cp packaging/linux/mto-studio.desktop "$bundle/mto-studio.desktop"
cp packaging/linux/install-desktop-entry.sh "$bundle/install-desktop-entry.sh"
cp packaging/linux/README-bundle.txt "$bundle/README.txt"
chmod +x "$bundle/install-desktop-entry.sh"
if command -v desktop-file-validate >/dev/null 2>&1; then desktop-file-validate "$bundle/mto-studio.desktop"; fi
step "writing $tarball"
rm -f "$tarball"
tar -C dist --transform "s,^mto-studio,mto-studio-${version}," -cf - mto-studio | gzip -6 > "$tarball"

bundle_mb=$(du -sm "$bundle" | cut -f1)
tar_mb=$(du -sm "$tarball" | cut -f1)
{
  echo "MTO Studio ${version} Linux bundle ($(date -u +%Y-%m-%dT%H:%MZ), torch $($venv/bin/python -c 'import torch; print(torch.__version__)'))"
  echo "bundle folder: ${bundle_mb} MB, tarball: ${tar_mb} MB, PyInstaller: ${pyi_seconds} s"
  echo "largest parts (MB):"
  du -sm "$bundle"/_internal/* | sort -rn | head -12 | sed "s,$bundle/_internal/,  ,"
  echo "largest files (MB):"
  find "$bundle" -type f -size +8M -printf '%s %n %P\n' | sort -rn | head -10 |
    awk '{printf "  %6.1f %s%s\n", $1/1048576, $3, ($2 > 1 ? " (hard links: " $2 ", stored once)" : "")}'
} | tee "$report"

if [[ "${MTO_SKIP_CHECKS:-}" == "1" ]]; then
  step "done (checks skipped): $tarball"; exit 0
fi

# 4. The self-test from the bundle, with no Python environment on PATH and a fresh HOME.
check_home=$(mktemp -d /tmp/mto-bundle-check.XXXXXX)
trap 'rm -rf "$check_home"' EXIT
step "self-test from the bundle (env -i, PATH=/usr/bin:/bin)"
mkdir -p "$check_home/selftest"
if ! env -i PATH=/usr/bin:/bin HOME="$check_home/selftest" QT_QPA_PLATFORM=offscreen \
    "$bundle/mto-studio" --self-test 2>&1 | tee build/bundle-selftest.txt; then
  log "the bundle's self-test FAILED" >&2; exit 1
fi
grep -q "^self-test passed" build/bundle-selftest.txt || { log "the bundle's self-test did not pass" >&2; exit 1; }
# The tarball unpacks to a working program, in another folder (nothing points back into the build tree).
step "self-test from the unpacked tarball"
mkdir -p "$check_home/unpacked" "$check_home/selftest2"
tar -C "$check_home/unpacked" -xzf "$tarball"
env -i PATH=/usr/bin:/bin HOME="$check_home/selftest2" "$check_home/unpacked/mto-studio-${version}/mto-studio" --version
if ! env -i PATH=/usr/bin:/bin HOME="$check_home/selftest2" "$check_home/unpacked/mto-studio-${version}/mto-studio" \
    --self-test > build/bundle-selftest-tarball.txt 2>&1; then
  cat build/bundle-selftest-tarball.txt >&2; log "the unpacked tarball's self-test FAILED" >&2; exit 1
fi
tail -1 build/bundle-selftest-tarball.txt
rm -rf "$check_home/unpacked"

# 5. Time to a visible window (MTO_STARTUP_PROBE=1 prints the seconds from process start to the first paint, and
# quits): the first launch after the build (fresh HOME: the default project is created; the bundle is still in the
# page cache from the build), a second launch (warm), then a cold one: the bundle's files are evicted from the page
# cache first (posix_fadvise DONTNEED needs no root, unlike drop_caches; system libraries and fonts stay cached, and
# a virtual machine's host may still cache the disk).
evict_bundle() {
  sync
  $venv/bin/python - "$bundle" <<'PY'
import os, sys
for root, _dirs, files in os.walk(sys.argv[1]):
    for name in files:
        path = os.path.join(root, name)
        if os.path.isfile(path) and not os.path.islink(path):
            fd = os.open(path, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
PY
}
if command -v xvfb-run >/dev/null 2>&1; then
  step "start time to a visible window under Xvfb"
  mkdir -p "$check_home/gui"
  for launch in "first launch after the build (fresh HOME)" "second launch (warm)" \
      "cold launch (bundle evicted from the page cache)"; do
    [[ $launch == cold* ]] && evict_bundle
    line=$(xvfb-run -a -s "-screen 0 1600x1000x24 -nolisten tcp" sh -c \
      'exec env -i PATH=/usr/bin:/bin HOME="$1" DISPLAY="$DISPLAY" XAUTHORITY="$XAUTHORITY" MTO_STARTUP_PROBE=1 "$2"' \
      _ "$check_home/gui" "$repo/$bundle/mto-studio-gui" 2>&1 | grep "startup: window visible" || true)
    echo "${launch}: ${line:-no startup line (see the output of a manual run)}" | tee -a "$report"
  done
else
  echo "start time: skipped (no xvfb-run; apt-get install xvfb xauth)" | tee -a "$report"
fi
echo "self-test: $(tail -1 build/bundle-selftest.txt)" >> "$report"
step "done in $((SECONDS - start)) s: $tarball (${tar_mb} MB), bundle ${bundle_mb} MB; report in $report"
echo "build time: $((SECONDS - start)) s" >> "$report"
