"""The zero-shot template ranking of one relation: format fit (mean log-likelihood) and knowledge (picking the
gold answer among distractors), each with its 95% bootstrap interval, the recommended template highlighted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from mto_studio.core.analysis.analyze import TemplateScore
from mto_studio.core.templates import Objective
from mto_studio.core.templates.colours import OBJECTIVE_COLOURS
from mto_studio.gui.plots.base import style_frame
from mto_studio.gui.theme import ERROR_RED, MUTED, OBJECTIVE_BAR_FILLS, TEXT, WHISKER, WHITE

BAR_THICKNESS = 0.62
AXIS_WIDTH = 118  # the template-name axis, wide enough for "★ unsup-nat-copy"
#: The chart's caption: what its two panels show.
SIGNALS_HTML = (
    "<b>Format fit</b> = mean log-likelihood of the gold answer's tokens under the template: how familiar the "
    "framing looks to the model (higher is better). <b>Knowledge</b> = how often the gold answer scores above "
    "the distractors (other heads' answers): whether the model knows the fact in this framing. Whiskers: 95% "
    "bootstrap intervals over the examples. ★ = recommended."
)


@dataclass(frozen=True)
class Bar:
    """One drawn bar, as the chart holds it (what tests and tooltips read back)."""

    template: str
    value: float
    low: float
    high: float
    recommended: bool


def _objective(score: TemplateScore) -> Objective:
    try:
        return Objective(score.objective)
    except ValueError:
        return Objective.MIXED


def _centred():
    from PySide6.QtGui import QTextOption

    option = QTextOption()
    option.setAlignment(Qt.AlignmentFlag.AlignHCenter)
    option.setWrapMode(QTextOption.WrapMode.WordWrap)
    return option


class _BarPanel:
    """One horizontal bar plot with CI whiskers and a value label per bar. Its items are made once; ``show``
    updates them (the label pool only grows when a relation has more templates than before)."""

    def __init__(self, plot: pg.PlotItem, title: str, axis_label: str) -> None:
        self.plot = plot
        self.title = title
        style_frame(plot, title, grid_y=False, alpha=0.18)
        plot.setMouseEnabled(x=False, y=False)
        plot.getViewBox().invertY(True)  # the best template on top
        plot.getAxis("left").setWidth(AXIS_WIDTH)
        plot.setLabel("bottom", axis_label, color=MUTED, size="9pt")
        self.bars = pg.BarGraphItem(
            x0=np.zeros(0), y=np.zeros(0), width=np.zeros(0), height=BAR_THICKNESS, pen=None, brush=None
        )
        self.errors = pg.ErrorBarItem(
            x=np.zeros(0),
            y=np.zeros(0),
            left=np.zeros(0),
            right=np.zeros(0),
            beam=0.22,
            pen=pg.mkPen(WHISKER, width=1.4),
        )
        plot.addItem(self.bars)
        plot.addItem(self.errors)
        self.labels: list[pg.TextItem] = []
        self.note = pg.TextItem("", color=MUTED, anchor=(0.5, 0.5))
        plot.addItem(self.note, ignoreBounds=True)
        # the note wraps to the plot's width (a long one was cut at both ends of a narrow panel)
        plot.getViewBox().sigResized.connect(lambda *_: self._fit_note())
        self.drawn: list[Bar] = []

    def _label(self, i: int) -> pg.TextItem:
        while len(self.labels) <= i:
            label = pg.TextItem("", color=TEXT, anchor=(1, 0.5))
            self.plot.addItem(label, ignoreBounds=True)
            self.labels.append(label)
        return self.labels[i]

    def show(
        self,
        bars: list[Bar],
        colours: list[tuple[str, str]],
        *,
        from_zero_left: bool,
        formatter,
        label_at,
        label_colour=lambda bar: TEXT,
    ) -> None:
        """``from_zero_left``: values are ≤ 0 and the bar runs from the value to 0 (log-likelihoods); else from 0
        to the value (accuracies). ``colours``: (fill, outline) per bar."""
        self.drawn = bars
        y = np.arange(len(bars), dtype=float)
        values = np.array([b.value for b in bars], dtype=float)
        lows = np.array([b.low for b in bars], dtype=float)
        highs = np.array([b.high for b in bars], dtype=float)
        if from_zero_left:
            x0, width = np.minimum(values, 0.0), np.abs(values)
        else:
            x0, width = np.zeros(len(bars)), np.maximum(values, 0.0)
        # (pyqtgraph 0.14 cannot take empty pens/brushes lists: no bars get the shared, empty pen and brush)
        pens = [pg.mkPen(line, width=2 if b.recommended else 1) for b, (_, line) in zip(bars, colours, strict=True)]
        self.bars.setOpts(
            x0=x0,
            y=y,
            width=width,
            height=BAR_THICKNESS,
            brushes=[pg.mkBrush(fill) for fill, _ in colours] or None,
            pens=pens or None,
        )
        self.errors.setData(x=values, y=y, left=np.maximum(values - lows, 0.0), right=np.maximum(highs - values, 0.0))
        for i, bar in enumerate(bars):
            label = self._label(i)
            label.setText(formatter(bar))
            x, anchor = label_at(bar)
            label.setAnchor(anchor)
            label.setPos(x, i)
            label.setColor(QColor(label_colour(bar)))
            label.setVisible(True)
        for label in self.labels[len(bars) :]:
            label.setVisible(False)
        self.plot.getAxis("left").setTicks(
            [[(i, ("★ " if b.recommended else "") + b.template) for i, b in enumerate(bars)], []]
        )
        self.note.setVisible(False)

    def show_note(self, text: str, x: float, y: float) -> None:
        self.note.setText(text)
        self.note.setPos(x, y)
        self.note.setVisible(True)
        self._fit_note()

    def _fit_note(self) -> None:
        width = self.plot.getViewBox().width()
        if width > 0:
            self.note.setTextWidth(max(60.0, width - 12))
            document = self.note.textItem.document()
            document.setDefaultTextOption(_centred())


class TemplateRankingChart(pg.GraphicsLayoutWidget):
    """Two panels side by side sharing the template axis: format fit (left) and knowledge (right)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.setObjectName("template-ranking-chart")
        self.setMinimumHeight(220)
        self.ci.setContentsMargins(4, 4, 12, 4)
        self.ci.setSpacing(14)
        self.fit = _BarPanel(self.addPlot(row=0, col=0), "Format fit", "log-likelihood per token (higher = better)")
        self.knowledge = _BarPanel(self.addPlot(row=0, col=1), "Knowledge", "picks the gold answer")
        self.knowledge.plot.setYLink(self.fit.plot)
        self.knowledge.plot.getAxis("left").setWidth(AXIS_WIDTH)
        self.chance_line = pg.InfiniteLine(
            pos=0.1,
            angle=90,
            movable=False,
            pen=pg.mkPen(ERROR_RED, width=1.5, style=Qt.PenStyle.DashLine),
            label="chance",
            labelOpts={"position": 0.03, "color": ERROR_RED, "anchors": [(0, 0), (0, 0)]},
        )
        self.knowledge.plot.addItem(self.chance_line, ignoreBounds=True)
        self.relation: str | None = None
        self.distractors = 0
        self.clear_scores()

    # --- data -------------------------------------------------------------------------------------------------
    def fit_bars(self) -> list[Bar]:
        """The format-fit bars as drawn, top to bottom (value = the bar's log-likelihood end)."""
        opts = self.fit.bars.opts
        x0, width = np.asarray(opts["x0"], dtype=float), np.asarray(opts["width"], dtype=float)
        return [
            Bar(b.template, float(x0[i]) if x0[i] < 0 else float(x0[i] + width[i]), b.low, b.high, b.recommended)
            for i, b in enumerate(self.fit.drawn)
        ]

    def knowledge_bars(self) -> list[Bar]:
        opts = self.knowledge.bars.opts
        width = np.asarray(opts["width"], dtype=float)
        return [
            Bar(b.template, float(width[i]), b.low, b.high, b.recommended) for i, b in enumerate(self.knowledge.drawn)
        ]

    def clear_scores(self, message: str = "Run the analysis to rank the templates") -> None:
        self.relation = None
        for panel in (self.fit, self.knowledge):
            panel.show([], [], from_zero_left=True, formatter=str, label_at=lambda b: (0, (0, 0)))
        self.fit.plot.setTitle("Format fit", color=TEXT, size="10pt")
        self.knowledge.plot.setTitle("Knowledge", color=TEXT, size="10pt")
        self.fit.plot.setXRange(-1, 0, padding=0)
        self.knowledge.plot.setXRange(0, 1, padding=0)
        self.fit.plot.setYRange(-0.5, 2.5, padding=0)
        self.fit.show_note(message, -0.5, 1)
        self.chance_line.setVisible(False)

    def set_scores(self, relation: str, scores: list[TemplateScore], best: str | None, distractors: int) -> None:
        """Show ``scores`` of ``relation``: sorted by format fit, best first; ``best`` highlighted."""
        if not scores:
            self.clear_scores(f"No template could be scored for {relation}")
            return
        self.relation = relation
        self.distractors = distractors
        ordered = sorted(scores, key=lambda s: s.log_likelihood, reverse=True)
        colours = []
        for score in ordered:
            strong = OBJECTIVE_COLOURS[_objective(score)]
            colours.append(
                (strong, TEXT) if score.template == best else (OBJECTIVE_BAR_FILLS[_objective(score)], strong)
            )
        fit = [Bar(s.template, s.log_likelihood, *s.log_likelihood_ci, s.template == best) for s in ordered]
        self.fit.show(
            fit,
            colours,
            from_zero_left=True,
            formatter=lambda b: f"{b.value:.2f}",
            label_at=lambda b: (-0.02 * max(1e-9, -min(x.low for x in fit)), (1, 0.5)),
            label_colour=lambda b: WHITE if b.recommended else TEXT,
        )
        low = min(min(b.low, b.value) for b in fit)
        low = min(low * 1.06, -0.1)
        self.fit.plot.setXRange(low, -0.02 * low, padding=0)  # a sliver right of 0, so its tick shows
        self.fit.plot.setTitle(f"Format fit · {relation}", color=TEXT, size="10pt")

        qa = []
        for s in ordered:
            accuracy = getattr(s, "accuracy", None)
            if accuracy is not None:
                low, high = s.accuracy_ci or (accuracy, accuracy)
                qa.append(Bar(s.template, accuracy, low, high, s.template == best))
        if qa and len(qa) == len(ordered):  # QA data: each template's zero-shot choice-ranking accuracy
            self.knowledge.show(
                qa,
                colours,
                from_zero_left=False,
                formatter=lambda b: f"{b.value:.0%}",
                label_at=lambda b: (min(max(b.high, b.value) + 0.02, 1.0), (0, 0.5)),
            )
            self.chance_line.setVisible(False)
            self.knowledge.plot.setTitle("QA accuracy · zero-shot choice ranking", color=TEXT, size="10pt")
            return
        candidates = distractors + 1
        knowledge = [
            Bar(s.template, s.choice_accuracy, *(s.choice_ci or (s.choice_accuracy,) * 2), s.template == best)
            for s in ordered
            if s.choice_accuracy is not None
        ]
        if distractors and len(knowledge) == len(ordered):  # every template was checked
            self.knowledge.show(
                knowledge,
                colours,
                from_zero_left=False,
                formatter=lambda b: f"{b.value:.0%}",
                label_at=lambda b: (min(max(b.high, b.value) + 0.02, 1.0), (0, 0.5)),
            )
            chance = 1.0 / candidates
            self.chance_line.setPos(chance)
            self.chance_line.label.setFormat(f"chance {chance:.0%}")
            self.chance_line.setVisible(True)
            self.knowledge.plot.setTitle(f"Knowledge · vs {distractors} distractors", color=TEXT, size="10pt")
        else:
            self.knowledge.show([], [], from_zero_left=False, formatter=str, label_at=lambda b: (0, (0, 0)))
            self.knowledge.show_note("knowledge check off (0 distractors)", 0.5, (len(fit) - 1) / 2)
            self.chance_line.setVisible(False)
            self.knowledge.plot.setTitle("Knowledge", color=TEXT, size="10pt")
        self.knowledge.plot.setXRange(0, 1.16, padding=0)
        self.knowledge.plot.getAxis("bottom").setTicks([[(v, f"{v:.0%}") for v in (0, 0.25, 0.5, 0.75, 1.0)], []])
        # a free band above the top bar holds the chance line's label
        self.fit.plot.setYRange(-1.0, len(fit) - 0.5, padding=0.0)
