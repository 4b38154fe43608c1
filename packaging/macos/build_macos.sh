#!/usr/bin/env bash
# Build MTO Studio for macOS: "MTO Studio.app" (PyInstaller BUNDLE of the one-folder build) and a drag-to-Applications
# disk image dist/mto-studio-<version>-macos-<arch>.dmg. TESTED BY RECIPE ONLY (written on Linux; no Mac was
# available): see packaging/README.md.
# Needs: macOS 12+, Xcode command line tools (codesign, hdiutil), Python 3.11 from python.org or Homebrew, built on
# the architecture it targets (arm64 on Apple silicon: PyPI's macOS torch includes MPS; x86_64 on Intel).
# Environment (optional):
#   PYTHON=python3.11
#   MTO_CODESIGN_IDENTITY="Developer ID Application: NAME (TEAMID)"   sign the binaries (PyInstaller) and the .app
#   MTO_NOTARY_PROFILE=PROFILE    notarize the .dmg with `xcrun notarytool` (a keychain profile made with
#                                 `xcrun notarytool store-credentials PROFILE --apple-id … --team-id …`)
set -euo pipefail
cd "$(dirname "$0")/../.."
python="${PYTHON:-python3.11}"
version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' mto_studio/__init__.py)
arch=$(uname -m)
venv=build/bundle-venv
app="dist/MTO Studio.app"
dmg="dist/mto-studio-${version}-macos-${arch}.dmg"

# 1. A fresh build venv, the project installed non-editably with the tested pins.
rm -rf "$venv" build/lib
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --upgrade pip
"$venv/bin/python" -m pip install -c constraints.txt ".[package]"

# 2. Icon, then the bundle (the spec makes "MTO Studio.app" on macOS; MTO_CODESIGN_IDENTITY and
#    MTO_ENTITLEMENTS=packaging/macos/entitlements.plist make PyInstaller sign every binary with the hardened runtime).
QT_QPA_PLATFORM=offscreen "$venv/bin/python" packaging/render_icon.py build/icons
export MTO_ENTITLEMENTS="${MTO_ENTITLEMENTS:-$PWD/packaging/macos/entitlements.plist}"
"$venv/bin/pyinstaller" --noconfirm --clean --distpath dist --workpath build/pyinstaller \
  packaging/pyinstaller/mto_studio.spec

# 3. The self-test from inside the .app, no Python on PATH.
env -i PATH=/usr/bin:/bin HOME="$(mktemp -d)" QT_QPA_PLATFORM=offscreen "$app/Contents/MacOS/mto-studio" --self-test

# 4. Sign the .app as a whole (the binaries inside were signed by PyInstaller), then the disk image.
if [[ -n "${MTO_CODESIGN_IDENTITY:-}" ]]; then
  codesign --force --options runtime --timestamp --entitlements "$MTO_ENTITLEMENTS" \
    --sign "$MTO_CODESIGN_IDENTITY" "$app"
  codesign --verify --deep --strict --verbose=2 "$app"
else
  echo "build_macos: unsigned build (ad-hoc signatures only): Gatekeeper will ask users to right-click > Open"
fi
staging=build/dmg
rm -rf "$staging" "$dmg"
mkdir -p "$staging"
cp -R "$app" "$staging/"
ln -s /Applications "$staging/Applications"
hdiutil create -volname "MTO Studio ${version}" -srcfolder "$staging" -ov -format UDZO "$dmg"
if [[ -n "${MTO_CODESIGN_IDENTITY:-}" ]]; then
  codesign --force --timestamp --sign "$MTO_CODESIGN_IDENTITY" "$dmg"
  if [[ -n "${MTO_NOTARY_PROFILE:-}" ]]; then
    xcrun notarytool submit "$dmg" --keychain-profile "$MTO_NOTARY_PROFILE" --wait
    xcrun stapler staple "$dmg"
  fi
fi
echo "build_macos: $dmg ($(du -sh "$dmg" | cut -f1))"
