"""What the app's pyqtgraph charts share: growable point buffers, the plot style (fonts, axes, grid, legend), the
redraw rate, and PNG export."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGraphicsItem

from mto_studio.gui.theme import LIGHT_BORDER, MUTED, OUTLINE, TEXT

#: live charts redraw at most once a second: a redraw moves the view range, so the axes and their grid are laid
#: out and painted again (~15 ms on 2 CPU cores); at 20 Hz that held the window's p99 stall at 22 ms, at 1 Hz it is
#: 5 ms (tests/benchmarks/bench_gui_stall.py, process backend)
REDRAW_MS = 1000
X_LABELS = {"step": "training step", "examples": "training examples seen"}


class SeriesBuffer:
    """(step, examples seen, value) rows in a numpy array that doubles when full (amortised O(1) appends)."""

    __slots__ = ("_data", "n")

    def __init__(self, capacity: int = 64) -> None:
        self._data = np.empty((max(capacity, 4), 3), dtype=float)
        self.n = 0

    def append(self, step: float, examples: float, value: float) -> bool:
        """Add a point; a point at or before the last step replaces what follows it (a resumed run redoes steps
        after its checkpoint; a second evaluation at the same step is the best checkpoint's, not a new point).
        Returns False when nothing changed."""
        if self.n and step <= self._data[self.n - 1, 0]:
            if step == self._data[self.n - 1, 0]:
                return False
            self.truncate_after(step - 1e-9)
        if self.n == len(self._data):
            grown = np.empty((len(self._data) * 2, 3), dtype=float)
            grown[: self.n] = self._data[: self.n]
            self._data = grown
        self._data[self.n] = (step, examples, value)
        self.n += 1
        return True

    def truncate_after(self, step: float) -> None:
        self.n = int(np.searchsorted(self._data[: self.n, 0], step, side="right"))

    @property
    def rows(self) -> np.ndarray:
        return self._data[: self.n]

    def __len__(self) -> int:
        return self.n


def style_frame(plot: pg.PlotItem, title: str, *, grid_y: bool = True, alpha: float = 0.15) -> None:
    """The look every chart shares: no context menu or buttons, a light grid, the title and the axes' pens and
    tick font."""
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.showGrid(x=True, y=grid_y, alpha=alpha)
    plot.setTitle(title, color=TEXT, size="10pt")
    font = QFont()
    font.setPointSizeF(9)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(OUTLINE))
        axis.setTextPen(pg.mkPen(TEXT))
        axis.setStyle(tickFont=font)
        # Kept as a pixmap between changes of the view range: an axis (its grid lines span the plot) replays its
        # ticks, labels and grid at every repaint otherwise, about 3.5 ms an axis (bench_gui_stall.py)
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


def style_plot(plot: pg.PlotItem, title: str, y_label: str) -> None:
    """A line chart over training steps (``y_label`` on the left)."""
    style_frame(plot, title)
    plot.setLabel("left", y_label, color=MUTED, size="9pt")
    plot.getAxis("left").enableAutoSIPrefix(False)
    plot.getAxis("bottom").enableAutoSIPrefix(False)
    plot.setLabel("bottom", X_LABELS["step"], color=MUTED, size="9pt")
    plot.setClipToView(True)
    plot.setDownsampling(auto=True, mode="peak")


def add_legend(plot: pg.PlotItem, offset=(-6, 6), columns: int = 1) -> pg.LegendItem:
    legend = plot.addLegend(
        offset=offset,
        colCount=columns,
        labelTextColor=TEXT,
        labelTextSize="8pt",
        brush=pg.mkBrush(255, 255, 255, 225),
        pen=pg.mkPen(LIGHT_BORDER),
    )
    legend.layout.setHorizontalSpacing(10)
    legend.layout.setVerticalSpacing(-4)
    return legend


def export_png(widget: pg.GraphicsLayoutWidget, path, width: int = 1600) -> None:
    from pyqtgraph.exporters import ImageExporter

    if hasattr(widget, "redraw"):
        widget.redraw()
    exporter = ImageExporter(widget.scene())
    exporter.parameters()["width"] = max(width, int(widget.width()))
    exporter.export(str(path))
