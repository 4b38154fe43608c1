"""Render resources/icons/mto-studio.svg to PNG files with Qt (no ImageMagick or Inkscape needed).

    python packaging/render_icon.py OUT_DIR [SIZE ...]      (default sizes: 16 32 48 64 128 256 512)

Writes OUT_DIR/mto-studio-<SIZE>.png for each size, OUT_DIR/mto-studio.png (256 px: the .desktop icon, and what
PyInstaller turns into the macOS .icns through Pillow) and, with Pillow, OUT_DIR/mto-studio.ico (16-256 px: the
Windows executables and the Inno Setup installer).
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SVG = REPO / "resources" / "icons" / "mto-studio.svg"


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0])
    sizes = [int(s) for s in argv[1:]] or [16, 32, 48, 64, 128, 256, 512]
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(["render_icon"])  # noqa: F841 - needed for painting
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        print(f"render_icon: cannot read {SVG}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        image.save(str(out / f"mto-studio-{size}.png"))
        if size == 256:
            image.save(str(out / "mto-studio.png"))
    try:
        from PIL import Image

        Image.open(out / "mto-studio.png").save(
            out / "mto-studio.ico", sizes=[(n, n) for n in (16, 24, 32, 48, 64, 128, 256)]
        )
    except ImportError:
        pass
    print(f"render_icon: {', '.join(str(s) for s in sizes)} px in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
