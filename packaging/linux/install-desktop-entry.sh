#!/usr/bin/env sh
# Add MTO Studio to the desktop's application menu (per user, no root): the icon into ~/.local/share/icons, and a
# .desktop file whose Exec is this folder's mto-studio-gui. Run it again after moving the folder;
# `install-desktop-entry.sh --remove` takes the entry away. The program itself needs no installation.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data/applications"
if [ "${1:-}" = "--remove" ]; then
  rm -f "$apps/mto-studio.desktop" "$data/icons/hicolor/256x256/apps/mto-studio.png" \
        "$data/icons/hicolor/scalable/apps/mto-studio.svg"
  echo "MTO Studio's menu entry removed"; exit 0
fi
mkdir -p "$apps" "$data/icons/hicolor/256x256/apps" "$data/icons/hicolor/scalable/apps"
cp "$here/mto-studio.png" "$data/icons/hicolor/256x256/apps/mto-studio.png"
cp "$here/mto-studio.svg" "$data/icons/hicolor/scalable/apps/mto-studio.svg"
sed "s|^Exec=.*|Exec=\"$here/mto-studio-gui\"|" "$here/mto-studio.desktop" > "$apps/mto-studio.desktop"
chmod +x "$apps/mto-studio.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$apps" >/dev/null 2>&1 || true
echo "MTO Studio added to the application menu ($apps/mto-studio.desktop -> $here/mto-studio-gui)"
