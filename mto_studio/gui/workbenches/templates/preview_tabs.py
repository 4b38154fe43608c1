"""The designer's tabs: the template being edited on real rows (text and tokens), the relation phrases, and the
side-by-side comparison with another template."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QTabWidget, QWidget

from mto_studio.core.data import Head
from mto_studio.core.errors import MtoError
from mto_studio.core.models.family import OTHER, Family, family_of_ref, format_match
from mto_studio.core.templates import T5_STYLE, Objective, Template
from mto_studio.gui.context import StudioContext
from mto_studio.gui.preview import PreviewRow, build_preview, spread_heads
from mto_studio.gui.theme import ERROR_RED
from mto_studio.gui.widgets.diff_view import TemplateDiffView
from mto_studio.gui.widgets.preview_panel import PreviewPanel
from mto_studio.gui.workbenches.templates.phrase_editor import PhraseEditor


class DesignerTabs(QTabWidget):
    """Preview, Relation phrases and Compare; the preview rows are the context's data, spread over relations."""

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.rows: list[PreviewRow] = []
        self._family: tuple[str, Family] | None = None  # (model reference, its family)
        self.setObjectName("designer-tabs")
        self.preview = PreviewPanel()
        self.phrase_editor = PhraseEditor(context)
        self.diff_view = TemplateDiffView()
        self.addTab(self.preview, "Preview")
        self.addTab(self.phrase_editor, "Relation phrases")
        self.addTab(self.diff_view, "Compare")

    def heads(self) -> list[Head]:
        """The heads the preview shows, as its row count and relation filter choose them."""
        data = self.context.data
        if data is None or data.task is None:
            return []
        return spread_heads(data.task.heads, self.preview.rows_spin.value(), self.preview.relation)

    def show_template(self, template: Template | None, *, stale: bool) -> None:
        """Render ``template`` on the preview rows (``stale``: the draft does not validate and this is its last
        valid version) and refresh the comparison."""
        heads = self.heads()
        context = self.context
        self._show_format(template)
        if template is None or not heads:
            self.rows = []
            reason = "Load data (File ▸ Open data…) to preview." if not heads else "Fix the template to preview it."
            self.preview.show_rows([], summary=reason)
            self.refresh_diff(template)
            return
        style = context.sentinel_style if context.tokenizer is not None else T5_STYLE
        self.rows = build_preview(
            context.library,
            template,
            heads,
            tokenizer=context.tokenizer,
            style=style or T5_STYLE,
            max_source_length=self.preview.max_source_spin.value(),
            max_target_length=self.preview.max_target_spin.value(),
        )
        mask_token = style.mask_token if style is not None and style.kind == "mask" else None
        self.preview.show_rows(
            self.rows, summary=self._summary(template, style, stale), mixed=template.is_mixed, mask_token=mask_token
        )
        self.refresh_diff(template)

    def family(self) -> Family:
        """The family of the project's model (read from its config.json once per model reference)."""
        ref = self.context.project.model_ref()
        if self._family is None or self._family[0] != ref:
            self._family = (ref, family_of_ref(ref))
        return self._family[1]

    def _show_format(self, template: Template | None) -> None:
        """Which pre-training format of the model's family ``template`` matches (the line under the summary)."""
        family = self.family()
        if template is None or family is OTHER:
            self.preview.show_format("", "", False)
            return
        try:
            parts = self.context.library.concrete(template) if template.is_mixed else []
        except MtoError:
            parts = []
        match = format_match(family, template, parts)
        self.preview.show_format(family.label, match.text, match.matches)

    def _summary(self, template: Template, style, stale: bool) -> str:
        tokenized = [r.tokens for r in self.rows if r.tokens is not None]
        parts = []
        if stale:
            parts.append(f'<span style="color:{ERROR_RED}">showing the last valid version of the template</span>')
        parts.append(f"<b>{len(self.rows)}</b> row(s)")
        if tokenized:
            for side in ("source", "target"):
                counts = [getattr(t, side).count for t in tokenized]
                parts.append(f"{side} tokens {min(counts)}–{max(counts)} (mean {sum(counts) / len(counts):.1f})")
            cut = sum(t.source.truncated or t.target.truncated for t in tokenized)
            parts.append(f'<span style="color:{ERROR_RED}"><b>{cut}</b> truncated</span>' if cut else "none truncated")
        context = self.context
        if context.tokenizer is None:
            if context.tokenizer_loading_ref:
                parts.append("loading the tokenizer…")
            elif context.tokenizer_error is not None:
                parts.append(f"no token counts: {html.escape(context.tokenizer_error.message)}")
        elif style is None and template.objective is not Objective.MAPPING:
            parts.append(
                f'<span style="color:{ERROR_RED}">this model has no sentinel or mask token: use a mapping template</span>'
            )
        errors = sum(r.error is not None for r in self.rows)
        if errors:
            parts.append(f'<span style="color:{ERROR_RED}">{errors} row(s) cannot be rendered</span>')
        return " · ".join(parts)

    def refresh_diff(self, template: Template | None) -> None:
        """Compare ``template`` (the draft) with the others, when the Compare tab is the one shown."""
        if self.currentWidget() is not self.diff_view:
            return
        style = self.context.sentinel_style if self.context.tokenizer is not None else None
        self.diff_view.set_context(self.context.library, template, self.heads(), style)
