"""Named lines on side-by-side plots, appended to as events arrive and redrawn on a timer: the Objective Lab's
losses and knowledge checks, and the Runs workbench's comparison."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QSizePolicy

from mto_studio.gui.plots.base import REDRAW_MS, X_LABELS, SeriesBuffer, add_legend, style_plot
from mto_studio.gui.theme import MUTED, TEXT


class LineChart(pg.GraphicsLayoutWidget):
    """Named lines on one or more side-by-side plots, appended to as events arrive and redrawn on a timer (the
    Objective Lab's losses and knowledge checks; the runs comparison)."""

    def __init__(
        self, panels: list[tuple[str, str, str]], parent=None, *, legend_offset=(-6, 6), shared_legend: bool = False
    ) -> None:
        """``panels``: (key, title, y label) per plot, left to right. ``shared_legend``: one legend in a column
        right of the plots, listing the first panel's lines (when every panel draws the same lines alike)."""
        super().__init__(parent)
        self.setBackground("w")
        self.setMinimumHeight(220)
        self.ci.setContentsMargins(4, 4, 10, 4)
        self.ci.setSpacing(12)
        self.plots: dict[str, pg.PlotItem] = {}
        self.legends: dict[str, pg.LegendItem] = {}
        self.shared_legend: pg.LegendItem | None = None
        for column, (key, title, y_label) in enumerate(panels):
            plot = self.addPlot(row=0, col=column)
            style_plot(plot, title, y_label)
            self.plots[key] = plot
            if not shared_legend:
                self.legends[key] = add_legend(plot, offset=legend_offset)
        if shared_legend:
            legend = pg.LegendItem(offset=None, labelTextColor=TEXT, labelTextSize="8pt", verSpacing=-4)
            legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            self.ci.addItem(legend, row=0, col=len(panels))
            self.ci.layout.setAlignment(legend, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            for column in range(len(panels)):
                self.ci.layout.setColumnStretchFactor(column, 1)
            self.shared_legend = legend
        self._first_panel = panels[0][0]
        self._buffers: dict[tuple[str, str], SeriesBuffer] = {}
        self._items: dict[tuple[str, str], pg.PlotDataItem] = {}
        self._dirty: set[tuple[str, str]] = set()
        self.x_mode = "step"
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.redraw)

    def add_line(
        self,
        panel: str,
        name: str,
        colour: str,
        *,
        width: float = 2.0,
        style: Qt.PenStyle = Qt.PenStyle.SolidLine,
        symbol: str | None = None,
    ) -> None:
        """Create a line once (its points come later)."""
        key = (panel, name)
        if key in self._items:
            return
        pen = pg.mkPen(colour, width=width, style=style)
        kwargs = (
            {"symbol": symbol, "symbolSize": 7, "symbolBrush": colour, "symbolPen": pg.mkPen("w")} if symbol else {}
        )
        item = pg.PlotDataItem([], [], pen=pen, name=None if self.shared_legend else name, **kwargs)
        self.plots[panel].addItem(item)
        if self.shared_legend is not None and panel == self._first_panel:
            self.shared_legend.addItem(item, name)
        self._items[key] = item
        self._buffers[key] = SeriesBuffer()

    def has_line(self, panel: str, name: str) -> bool:
        return (panel, name) in self._items

    def append(self, panel: str, name: str, step: float, value: float, examples: float = 0.0) -> None:
        if not np.isfinite(value):
            return
        if self._buffers[(panel, name)].append(step, examples, value):
            self._dirty.add((panel, name))
            if not self.timer.isActive():
                self.timer.start()

    def set_points(self, panel: str, name: str, rows: Iterable[tuple[float, float, float]]) -> None:
        """Replace a line's points with (step, examples seen, value) rows."""
        buffer = SeriesBuffer()
        for step, examples, value in rows:
            if np.isfinite(value):
                buffer.append(step, examples, value)
        self._buffers[(panel, name)] = buffer
        self._dirty.add((panel, name))
        self.redraw()

    def truncate(self, step: float) -> None:
        for key, buffer in self._buffers.items():
            buffer.truncate_after(step)
            self._dirty.add(key)
        self.redraw()

    def reset(self) -> None:
        for (panel, _name), item in self._items.items():
            self.plots[panel].removeItem(item)
        for legend in self.legends.values():
            legend.clear()
        if self.shared_legend is not None:
            self.shared_legend.clear()
        self._items.clear()
        self._buffers.clear()
        self._dirty.clear()

    def set_x_mode(self, mode: str) -> None:
        if mode not in X_LABELS:
            return
        self.x_mode = mode
        for plot in self.plots.values():
            plot.setLabel("bottom", X_LABELS[mode], color=MUTED, size="9pt")
        self._dirty.update(self._items)
        self.redraw()

    def redraw(self) -> None:
        if not self._dirty:
            self.timer.stop()
            return
        column = 0 if self.x_mode == "step" else 1
        for key in self._dirty:
            rows = self._buffers[key].rows
            self._items[key].setData(rows[:, column], rows[:, 2])
        self._dirty.clear()

    def points(self, panel: str, name: str) -> np.ndarray:
        buffer = self._buffers.get((panel, name))
        return buffer.rows.copy() if buffer is not None else np.zeros((0, 3))
