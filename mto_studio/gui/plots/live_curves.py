"""Live learning curves (ARCHITECTURE pattern 4): items are created once per curve, points go into growable numpy
buffers as events arrive, and the plots redraw from a timer at ≤ 20 Hz, so a burst of events costs one redraw.
Seeds of one (method, template, k) cell are drawn as their mean with a ± sd band."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QSizePolicy

from mto_studio.core.data.sampling import parse_shots
from mto_studio.core.templates import Objective
from mto_studio.core.templates.colours import PALETTE, template_colours
from mto_studio.gui.plots.base import REDRAW_MS, X_LABELS, SeriesBuffer, style_plot
from mto_studio.gui.plots.base import export_png as export_chart
from mto_studio.gui.theme import MUTED, TEXT

#: Line styles along the k ladder; full data is always solid.
FEW_SHOT_STYLES = [Qt.PenStyle.DotLine, Qt.PenStyle.DashLine, Qt.PenStyle.DashDotLine, Qt.PenStyle.DashDotDotLine]


def aggregate_seeds(series: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct step over the seeds' rows: (steps, examples seen, mean, sample sd, seeds counted). A step only
    some seeds have reached yet uses those; one seed gives sd 0."""
    parts = [s for s in series if len(s)]
    if not parts:
        empty = np.zeros(0)
        return empty, empty, empty, empty, empty
    rows = np.concatenate(parts)
    steps, inverse = np.unique(rows[:, 0], return_inverse=True)
    count = np.bincount(inverse).astype(float)
    mean = np.bincount(inverse, weights=rows[:, 2]) / count
    squares = np.bincount(inverse, weights=(rows[:, 2] - mean[inverse]) ** 2)
    sd = np.where(count > 1, np.sqrt(squares / np.maximum(count - 1, 1)), 0.0)
    examples = np.bincount(inverse, weights=rows[:, 1]) / count
    return steps, examples, mean, sd, count


@dataclass(frozen=True)
class CurveKey:
    """One cell of the experiment grid: its seeds share a curve."""

    method: str
    template: str
    shots: str  # "8", "full"

    def label(self, with_method: bool) -> str:
        text = f"{self.template} · {'full data' if self.shots == 'full' else f'k={self.shots}'}"
        return f"{text} · {self.method}" if with_method else text


def shots_rank(label: str) -> float:
    k = parse_shots(label)
    return float("inf") if k is None else float(k)


class _Band:
    """The drawn items of one curve key on one plot: the mean line and the ± sd band around it."""

    def __init__(self, plot: pg.PlotItem, colour: str, style: Qt.PenStyle, name: str | None) -> None:
        pen = pg.mkPen(colour, width=2.2 if style == Qt.PenStyle.SolidLine else 1.9, style=style)
        self.line = pg.PlotDataItem([], [], pen=pen, name=name)
        # Transparent, not None: a PlotDataItem without a pen keeps no path, and the band needs both edges' paths
        # (clipped and downsampled like the line they surround).
        edge = pg.mkPen(0, 0, 0, 0)
        self.upper = pg.PlotDataItem([], [], pen=edge)
        self.lower = pg.PlotDataItem([], [], pen=edge)
        fill = QColor(colour)
        fill.setAlpha(48)
        self.fill = pg.FillBetweenItem(self.upper, self.lower, brush=pg.mkBrush(fill))
        for item in (self.upper, self.lower):
            plot.addItem(item)
        plot.addItem(self.fill)
        plot.addItem(self.line)
        self.fill.setZValue(-5)
        self.line.setZValue(5)

    def set(self, x: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> None:
        self.upper.setData(x, mean + sd)
        self.lower.setData(x, mean - sd)
        self.line.setData(x, mean)


class LiveCurves(pg.GraphicsLayoutWidget):
    """Training loss and validation ROUGE-L against steps (or examples seen), one mean ± sd band per
    (method, template, k); few-shot cells dashed or dotted, full data solid, one colour per template."""

    METRICS = ("loss", "rougeL")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("live-curves")
        self.setBackground("w")
        self.setMinimumHeight(240)
        self.ci.setContentsMargins(4, 4, 10, 4)
        self.ci.setSpacing(12)
        self.loss_plot = self.addPlot(row=0, col=0)
        self.rouge_plot = self.addPlot(row=0, col=1)
        style_plot(self.loss_plot, "Training loss", "loss (mean ± sd over seeds)")
        style_plot(self.rouge_plot, "Validation ROUGE-L", "ROUGE-L (mean ± sd over seeds)")
        self.rouge_plot.setYRange(0, 0.1)
        self.rouge_plot.getViewBox().setLimits(yMin=-0.02, yMax=1.02)  # a score lives in [0, 1]
        # The legend has a column of its own, right of the plots: inside, it would hide the curves it explains.
        self.legend = pg.LegendItem(offset=None, labelTextColor=TEXT, labelTextSize="8pt", verSpacing=-4)
        self.legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.ci.addItem(self.legend, row=0, col=2)
        self.ci.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.ci.layout.setColumnStretchFactor(0, 1)
        self.ci.layout.setColumnStretchFactor(1, 1)
        self.plots = {"loss": self.loss_plot, "rougeL": self.rouge_plot}
        #: the validation metric the right plot shows (its key stays "rougeL"): "rougeL", or "accuracy" for QA
        self.score_metric = "rougeL"
        self.x_mode = "step"
        self._seeds: dict[CurveKey, dict[int, dict[str, SeriesBuffer]]] = {}
        self._bands: dict[tuple[CurveKey, str], _Band] = {}
        self._dirty: set[CurveKey] = set()
        self._colours: dict[str, str] = {}
        self._objectives: dict[str, Objective] = {}
        self._shots: list[str] = []
        self._methods: set[str] = set()
        self._legend_keys: list[CurveKey] = []
        self.redraws = 0
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self.note = pg.TextItem("", color=MUTED, anchor=(0.5, 0.5))
        self.loss_plot.addItem(self.note, ignoreBounds=True)
        self.show_note("Start an experiment: the curves fill in as the runs train")

    # --- the grid --------------------------------------------------------------------------------------------
    def set_grid(
        self, templates: list[str], objectives: dict[str, Objective], shots: list[str], methods: list[str]
    ) -> None:
        """Fix colours (per template, in its objective's family) and line styles (per k) before data arrives."""
        self._objectives = dict(objectives)
        self._colours = template_colours(templates, objectives)
        self._shots = sorted(dict.fromkeys(shots), key=shots_rank)
        self._methods = set(methods)

    def colour(self, template: str) -> str:
        if template not in self._colours:
            self._colours[template] = PALETTE[len(self._colours) % len(PALETTE)]
        return self._colours[template]

    def pen_style(self, shots: str) -> Qt.PenStyle:
        if shots == "full":
            return Qt.PenStyle.SolidLine
        few = [s for s in self._shots if s != "full"]
        if shots not in few:
            few = sorted([*few, shots], key=shots_rank)
        return FEW_SHOT_STYLES[few.index(shots) % len(FEW_SHOT_STYLES)]

    # --- data ------------------------------------------------------------------------------------------------
    def _buffer(self, key: CurveKey, seed: int, metric: str) -> SeriesBuffer:
        seeds = self._seeds.setdefault(key, {})
        buffers = seeds.setdefault(seed, {m: SeriesBuffer() for m in self.METRICS})
        return buffers[metric]

    def add_point(self, key: CurveKey, seed: int, metric: str, step: int, examples: int, value: float) -> None:
        """Append one point; it is drawn at the next redraw tick."""
        if not np.isfinite(value):
            return
        if self._buffer(key, seed, metric).append(step, examples, value):
            self._mark(key)

    def add_points(self, key: CurveKey, seed: int, metric: str, rows: Iterable[tuple[int, int, float]]) -> None:
        buffer = self._buffer(key, seed, metric)
        changed = False
        for step, examples, value in rows:
            if np.isfinite(value):
                changed = buffer.append(step, examples, value) or changed
        if changed:
            self._mark(key)

    def truncate(self, key: CurveKey, seed: int, step: int) -> None:
        """Forget a seed's points after ``step`` (a resumed run redoes them)."""
        for metric in self.METRICS:
            self._buffer(key, seed, metric).truncate_after(step)
        self._mark(key)

    def _mark(self, key: CurveKey) -> None:
        self._dirty.add(key)
        if not self.timer.isActive():
            self.timer.start()

    def reset(self) -> None:
        for (_key, metric), band in self._bands.items():
            for item in (band.line, band.upper, band.lower, band.fill):
                self.plots[metric].removeItem(item)
        self._bands.clear()
        self._seeds.clear()
        self._dirty.clear()
        self.legend.clear()
        self._legend_keys = []
        self.rouge_plot.setYRange(0, 0.1)
        self.set_score_metric("rougeL")
        self.show_note("Start an experiment: the curves fill in as the runs train")

    def set_score_metric(self, metric: str, name: str = "ROUGE-L") -> None:
        """Title the right plot after the validation metric it shows, ``name`` ("accuracy" for QA runs)."""
        if metric == self.score_metric:
            return
        self.score_metric = metric
        self.rouge_plot.setTitle(f"Validation {name}", color=TEXT, size="10pt")
        self.rouge_plot.setLabel("left", f"{name} (mean ± sd over seeds)", color=MUTED, size="9pt")

    def show_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))
        if text:
            self.loss_plot.setXRange(0, 1, padding=0)
            self.loss_plot.setYRange(0, 1, padding=0)
            self.note.setPos(0.5, 0.5)

    def set_x_mode(self, mode: str) -> None:
        if mode not in X_LABELS or mode == self.x_mode:
            return
        self.x_mode = mode
        for plot in self.plots.values():
            plot.setLabel("bottom", X_LABELS[mode], color=MUTED, size="9pt")
        self._dirty.update(self._seeds)
        self.redraw()
        for plot in self.plots.values():
            plot.enableAutoRange(x=True)

    # --- drawing ---------------------------------------------------------------------------------------------
    def _band(self, key: CurveKey, metric: str) -> _Band:
        band = self._bands.get((key, metric))
        if band is None:
            band = _Band(self.plots[metric], self.colour(key.template), self.pen_style(key.shots), None)
            self._bands[(key, metric)] = band
            if metric == "loss":  # one legend entry per key: both plots draw it alike
                self._add_legend_entry(key, band)
        return band

    def _add_legend_entry(self, key: CurveKey, band: _Band) -> None:
        """Legend entries in grid order (template, then k), whatever order the runs start in."""
        entries = [k for k in self._legend_keys]
        entries.append(key)
        order = {t: i for i, t in enumerate(self._colours)}
        entries.sort(key=lambda k: (k.method, order.get(k.template, len(order)), shots_rank(k.shots)))
        self._legend_keys = entries
        self.legend.clear()
        with_method = len(self._methods) > 1
        for entry in entries:
            self.legend.addItem(self._bands[(entry, "loss")].line, entry.label(with_method))

    def redraw(self) -> None:
        """Draw every curve that received points since the last tick (the timer stops when nothing is new)."""
        if not self._dirty:
            self.timer.stop()
            return
        if self.note.isVisible():
            self.note.setVisible(False)
            for plot in self.plots.values():
                plot.enableAutoRange()
        column = 0 if self.x_mode == "step" else 1
        for key in sorted(self._dirty, key=lambda k: (k.method, k.template, shots_rank(k.shots))):
            seeds = self._seeds.get(key, {})
            for metric in self.METRICS:
                buffers = [b[metric].rows for b in seeds.values()]
                if not any(len(b) for b in buffers) and (key, metric) not in self._bands:
                    continue
                steps, examples, mean, sd, _count = aggregate_seeds(buffers)
                self._band(key, metric).set(steps if column == 0 else examples, mean, sd)
        self._dirty.clear()
        self.redraws += 1

    # --- reading back (tests, export) --------------------------------------------------------------------------
    def export_png(self, path, width: int = 1600) -> None:
        """The plots as drawn, legend included (pyqtgraph's ImageExporter; its SVG exporter crashes on Qt 6.12)."""
        export_chart(self, path, width)

    def keys(self) -> list[CurveKey]:
        return list(self._seeds)

    def curve(self, key: CurveKey, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, mean, sd) as drawn."""
        band = self._bands.get((key, metric))
        if band is None:
            empty = np.zeros(0)
            return empty, empty, empty
        x, mean = band.line.getData()
        _, upper = band.upper.getData()
        if x is None:
            empty = np.zeros(0)
            return empty, empty, empty
        return np.asarray(x), np.asarray(mean), np.asarray(upper) - np.asarray(mean)

    def seed_points(self, key: CurveKey, seed: int, metric: str) -> np.ndarray:
        return self._seeds.get(key, {}).get(seed, {}).get(metric, SeriesBuffer()).rows.copy()

    def band_item(self, key: CurveKey, metric: str) -> pg.FillBetweenItem | None:
        band = self._bands.get((key, metric))
        return band.fill if band else None


class LadderChart(pg.GraphicsLayoutWidget):
    """The k-shot ladder: the final metric against training size (k = … → full data), one line per template with
    ± sd error bars over seeds, in the same colours as the learning curves. Filled from the result table."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("ladder-chart")
        self.setBackground("w")
        self.setMinimumHeight(160)
        self.ci.setContentsMargins(4, 4, 10, 4)
        self.plot = self.addPlot(row=0, col=0)
        style_plot(self.plot, "ROUGE-L by training size", "ROUGE-L (mean ± sd)")
        self.plot.setLabel("bottom", "training heads per relation", color=MUTED, size="9pt")
        self.plot.setMouseEnabled(x=False, y=True)
        self.plot.getViewBox().setLimits(yMin=-0.02, yMax=1.02)
        self.legend = pg.LegendItem(offset=None, labelTextColor=TEXT, labelTextSize="8pt", verSpacing=-4)
        self.legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.ci.addItem(self.legend, row=0, col=1)
        self.ci.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self._lines: dict[tuple[str, str], tuple[pg.PlotDataItem, pg.ErrorBarItem]] = {}
        self.shots: list[str] = []

    def set_rows(self, rows: list[tuple[str, str]], shots: list[str], colours, baseline: str) -> None:
        """Create one line per (method, template) row; ``colours``: template → colour."""
        for line, bars in self._lines.values():
            self.plot.removeItem(line)
            self.plot.removeItem(bars)
        self.legend.clear()
        self._lines = {}
        self.shots = list(shots)
        with_method = len({m for m, _ in rows}) > 1
        for method, template in rows:
            colour = colours(template)
            style = Qt.PenStyle.DashLine if template == baseline else Qt.PenStyle.SolidLine
            line = pg.PlotDataItem(
                [],
                [],
                pen=pg.mkPen(colour, width=2.2, style=style),
                symbol="o",
                symbolSize=8,
                symbolBrush=colour,
                symbolPen=pg.mkPen("w"),
            )
            bars = pg.ErrorBarItem(
                x=np.zeros(0), y=np.zeros(0), height=np.zeros(0), beam=0.12, pen=pg.mkPen(colour, width=1.4)
            )
            self.plot.addItem(bars)
            self.plot.addItem(line)
            name = f"{template} · {method}" if with_method else template
            self.legend.addItem(line, f"{name} (baseline)" if template == baseline else name)
            self._lines[(method, template)] = (line, bars)
        ticks = [(i, "full data" if s == "full" else f"k = {s}") for i, s in enumerate(self.shots)]
        self.plot.getAxis("bottom").setTicks([ticks, []])
        self.plot.setXRange(-0.3, max(len(self.shots) - 1, 1) + 0.3, padding=0)

    def set_cells(self, cell) -> None:
        """``cell(method, template, shots)`` → (mean, sd) or None, for every line and k."""
        for (method, template), (line, bars) in self._lines.items():
            xs, means, sds = [], [], []
            for i, shots in enumerate(self.shots):
                found = cell(method, template, shots)
                if found is not None:
                    xs.append(float(i))
                    means.append(found[0])
                    sds.append(found[1])
            x, mean, sd = np.asarray(xs), np.asarray(means), np.asarray(sds)
            line.setData(x, mean)
            bars.setData(x=x, y=mean, height=2 * sd)

    def points(self, method: str, template: str) -> tuple[np.ndarray, np.ndarray]:
        line, _bars = self._lines[(method, template)]
        x, y = line.getData()
        return (np.zeros(0), np.zeros(0)) if x is None else (np.asarray(x), np.asarray(y))
