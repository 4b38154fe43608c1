#!/usr/bin/env bash
# Turn the Linux bundle (dist/mto-studio, from packaging/build_linux.sh) into an AppImage:
#   dist/MTO_Studio-<version>-x86_64.AppImage
# appimagetool is not on PyPI or Debian, and GitHub (where it is released) is unreachable from our build machines, so
# the tarball is what we ship; this script is the recipe for a maintainer who has appimagetool. The AppDir assembly
# (steps 1-2) is tested here (`--appdir-only`, and AppDir/AppRun --self-test passes); step 3 is TESTED BY RECIPE ONLY.
#
#   wget https://github.com/AppImage/appimagetool/releases/download/continuous/appimagetool-x86_64.AppImage
#   chmod +x appimagetool-x86_64.AppImage
#   APPIMAGETOOL=$PWD/appimagetool-x86_64.AppImage packaging/linux/build_appimage.sh
#
# Usage: packaging/linux/build_appimage.sh [--appdir-only]
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' mto_studio/__init__.py)
bundle=dist/mto-studio
appdir=build/MTO_Studio.AppDir
[[ -x $bundle/mto-studio-gui ]] || { echo "build_appimage: build the bundle first (packaging/build_linux.sh)" >&2; exit 1; }

# 1. AppDir: the bundle under usr/lib/mto-studio, the desktop file and icon at the top (as appimagetool wants).
rm -rf "$appdir"
mkdir -p "$appdir/usr/lib" "$appdir/usr/share/applications" "$appdir/usr/share/icons/hicolor/256x256/apps"
cp -a "$bundle" "$appdir/usr/lib/mto-studio"
cp packaging/linux/mto-studio.desktop "$appdir/mto-studio.desktop"
cp packaging/linux/mto-studio.desktop "$appdir/usr/share/applications/mto-studio.desktop"
cp "$bundle/mto-studio.png" "$appdir/mto-studio.png"
cp "$bundle/mto-studio.png" "$appdir/usr/share/icons/hicolor/256x256/apps/mto-studio.png"
ln -s mto-studio.png "$appdir/.DirIcon"
# 2. AppRun: no arguments opens the app; any argument goes to the command line (--self-test, train, sweep …).
cat > "$appdir/AppRun" <<'APPRUN'
#!/bin/sh
here="$(dirname "$(readlink -f "$0")")"
if [ "$#" -eq 0 ]; then exec "$here/usr/lib/mto-studio/mto-studio-gui"; fi
exec "$here/usr/lib/mto-studio/mto-studio" "$@"
APPRUN
chmod +x "$appdir/AppRun"
echo "build_appimage: AppDir ready in $appdir ($(du -sm "$appdir" | cut -f1) MB)"
[[ "${1:-}" == "--appdir-only" ]] && exit 0

# 3. The AppImage (squashfs, zstd): a file about the size of the tarball (~370 MB; not measured: no appimagetool).
: "${APPIMAGETOOL:?set APPIMAGETOOL to the appimagetool binary (see the comment at the top)}"
ARCH=x86_64 VERSION="$version" "$APPIMAGETOOL" --comp zstd "$appdir" "dist/MTO_Studio-${version}-x86_64.AppImage"
echo "build_appimage: dist/MTO_Studio-${version}-x86_64.AppImage"
