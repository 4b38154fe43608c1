"""The Objective Lab's settings column: the recipe (a pre-training config file), its objective mix, model size and
training settings, and a parameter estimate. It reads and writes a PretrainConfig; running it is the workbench's
business."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QWidget,
)

from mto_studio.core.errors import MtoError
from mto_studio.core.pretraining.objective_lab import (
    STREAMS,
    ModelSection,
    ObjectiveMix,
    PretrainConfig,
    TrainingSection,
)
from mto_studio.core.resources import resource
from mto_studio.gui.dialogs import show_error
from mto_studio.gui.format import THREADS_TIP
from mto_studio.gui.format import esc as _esc
from mto_studio.gui.theme import ERROR_RED
from mto_studio.gui.widgets.fields import config_double, config_spin, settings_layout

OPEN_RECIPE = "\x00open"
OBJECTIVE_HELP = {
    "span": "T5 span corruption over packed knowledge sentences",
    "salient": "salient-span corruption: the knowledge-bearing tail of each sentence is masked",
    "supervised": "the Mapping stream: question/instruction → answer pairs",
}


def recipes() -> list[Path]:
    return sorted(resource("recipes").glob("*.toml"))


def parameter_estimate(cfg: PretrainConfig) -> int:
    """Roughly the T5 parameter count: tied embeddings, attention, gated feed-forward, layer norms."""
    m = cfg.model
    inner = m.num_heads * m.d_kv
    ff = (3 if m.feed_forward_proj.startswith("gated") else 2) * m.d_model * m.d_ff
    encoder = m.num_layers * (4 * m.d_model * inner + ff)
    decoder = m.num_decoder_layers * (8 * m.d_model * inner + ff)
    embeddings = (cfg.tokenizer.vocab_size + 100) * m.d_model * (1 if m.tie_embeddings else 2)
    return encoder + decoder + embeddings


class LabSettings(QWidget):
    """The form; ``recipe`` is the loaded recipe, the base that current_config() puts the form's values on."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.recipe: PretrainConfig | None = None
        self.recipe_path: Path | None = None
        self._build()
        self._fill_recipes()
        default = resource("recipes", "pilot.toml")
        self.load_recipe(default if default.is_file() else next(iter(recipes()), None))

    def _spin(self, name: str, cls: type, field: str, tip: str = "") -> QSpinBox:
        """An integer row for the recipe's ``cls.field``: range and help from the field (``tip`` adds advice)."""
        spin = config_spin(cls, field, f"lab-{name}", tip=tip)
        spin.valueChanged.connect(lambda _v: self._update_estimate())
        return spin

    def _double(self, name: str, cls: type, field: str, step: float, tip: str = "", high: float | None = None):
        spin = config_double(cls, field, f"lab-{name}", step=step, tip=tip, high=high)
        spin.valueChanged.connect(lambda _v: self._update_estimate())
        return spin

    def _build(self) -> None:
        layout = settings_layout(
            self,
            "Objective Lab",
            "Pre-train a small T5 from scratch on the built-in world and watch what each objective "
            "teaches it: Filling relations only from sentences (span and salient-span corruption), "
            "Mapping relations only from question → answer pairs.",
        )
        recipe_form = QFormLayout()
        self.recipe_combo = QComboBox()
        self.recipe_combo.setObjectName("lab-recipe")
        self.recipe_combo.activated.connect(lambda _i: self._on_recipe_chosen())
        recipe_form.addRow("Recipe", self.recipe_combo)
        layout.addLayout(recipe_form)
        self.description_label = QLabel()
        self.description_label.setObjectName("lab-description")
        self.description_label.setWordWrap(True)
        self.description_label.setProperty("role", "muted")
        layout.addWidget(self.description_label)

        mix_box = QGroupBox("Objective mix")
        mix_form = QFormLayout(mix_box)
        self.weight_spins = {}
        for stream in STREAMS:
            spin = self._double(f"weight-{stream}", ObjectiveMix, stream, 0.05, OBJECTIVE_HELP[stream], high=100.0)
            self.weight_spins[stream] = spin
            mix_form.addRow(f"{stream.capitalize()} weight", spin)
        self.noise_spin = self._double("noise-density", ObjectiveMix, "noise_density", 0.01)
        self.span_spin = self._double("mean-span", ObjectiveMix, "mean_span_length", 0.5)
        mix_form.addRow("Noise density", self.noise_spin)
        mix_form.addRow("Mean span length", self.span_spin)
        layout.addWidget(mix_box)

        model_box = QGroupBox("Model size")
        model_form = QFormLayout(model_box)
        self.d_model_spin = self._spin("d-model", ModelSection, "d_model")
        self.d_ff_spin = self._spin("d-ff", ModelSection, "d_ff")
        self.layers_spin = self._spin("layers", ModelSection, "num_layers", "the decoder gets as many")
        self.heads_spin = self._spin("heads", ModelSection, "num_heads")
        model_form.addRow("Hidden size", self.d_model_spin)
        model_form.addRow("Feed-forward", self.d_ff_spin)
        model_form.addRow("Layers (each side)", self.layers_spin)
        model_form.addRow("Heads", self.heads_spin)
        self.estimate_label = QLabel()
        self.estimate_label.setObjectName("lab-estimate")
        self.estimate_label.setProperty("role", "muted")
        model_form.addRow("", self.estimate_label)
        layout.addWidget(model_box)

        train_box = QGroupBox("Training")
        train_form = QFormLayout(train_box)
        self.steps_spin = self._spin("steps", TrainingSection, "steps")
        self.batch_spin = self._spin("batch", TrainingSection, "batch_size")
        self.lr_spin = config_spin(
            TrainingSection, "lr", "lab-lr", tip="at 3e-3 the probe learned no facts; 1e-3 did"
        )  # fmt: skip
        self.eval_spin = self._spin("eval-every", TrainingSection, "eval_every")
        self.threads_spin = self._spin("threads", TrainingSection, "threads", THREADS_TIP)
        train_form.addRow("Steps", self.steps_spin)
        train_form.addRow("Batch size", self.batch_spin)
        train_form.addRow("Learning rate", self.lr_spin)
        train_form.addRow("Check knowledge every", self.eval_spin)
        train_form.addRow("Torch threads", self.threads_spin)
        layout.addWidget(train_box)
        layout.addStretch(1)

    # --- recipes -----------------------------------------------------------------------------------------------
    def _fill_recipes(self) -> None:
        self.recipe_combo.blockSignals(True)
        self.recipe_combo.clear()
        for path in recipes():
            self.recipe_combo.addItem(path.stem, str(path))
        self.recipe_combo.addItem("open a recipe file…", OPEN_RECIPE)
        self.recipe_combo.blockSignals(False)

    def _on_recipe_chosen(self) -> None:
        data = self.recipe_combo.currentData()
        if data == OPEN_RECIPE:
            path, _f = QFileDialog.getOpenFileName(
                self, "Open a pre-training recipe", str(resource("recipes")), "Recipes (*.toml)"
            )
            if path:
                self.load_recipe(path)
            elif self.recipe_path is not None:
                self.recipe_combo.setCurrentIndex(max(0, self.recipe_combo.findData(str(self.recipe_path))))
            return
        self.load_recipe(data)

    def load_recipe(self, path: str | Path | None) -> bool:
        if path is None:
            return False
        try:
            cfg = PretrainConfig.load(path)
        except MtoError as exc:
            show_error(self, "Cannot read the recipe", exc, path=str(path))
            return False
        self.recipe, self.recipe_path = cfg, Path(path)
        index = self.recipe_combo.findData(str(path))
        if index < 0:
            self.recipe_combo.insertItem(self.recipe_combo.count() - 1, Path(path).stem, str(path))
            index = self.recipe_combo.count() - 2
        self.recipe_combo.setCurrentIndex(index)
        self.description_label.setText(" ".join(cfg.description.split()) or f"recipe {cfg.name}")
        mix = cfg.objectives
        for stream, spin in self.weight_spins.items():
            spin.setValue(getattr(mix, stream))
        self.noise_spin.setValue(mix.noise_density)
        self.span_spin.setValue(mix.mean_span_length)
        self.d_model_spin.setValue(cfg.model.d_model)
        self.d_ff_spin.setValue(cfg.model.d_ff)
        self.layers_spin.setValue(cfg.model.num_layers)
        self.heads_spin.setValue(cfg.model.num_heads)
        t = cfg.training
        self.steps_spin.setValue(t.steps)
        self.batch_spin.setValue(t.batch_size)
        self.lr_spin.setValue(t.lr)
        self.eval_spin.setValue(t.eval_every)
        self.threads_spin.setValue(t.threads)
        self._update_estimate()
        return True

    def current_config(self) -> PretrainConfig:
        """The loaded recipe with the form's values (raises MtoError)."""
        if self.recipe is None:
            raise MtoError("no recipe is loaded", "pick one of resources/recipes/*.toml")
        data = self.recipe.to_dict()
        data["objectives"].update(
            {s: round(spin.value(), 4) for s, spin in self.weight_spins.items()},
            noise_density=round(self.noise_spin.value(), 4),
            mean_span_length=round(self.span_spin.value(), 4),
        )
        heads = self.heads_spin.value()
        data["model"].update(
            d_model=self.d_model_spin.value(),
            d_ff=self.d_ff_spin.value(),
            num_layers=self.layers_spin.value(),
            num_decoder_layers=self.layers_spin.value(),
            num_heads=heads,
            d_kv=max(4, self.d_model_spin.value() // heads),
        )
        data["training"].update(
            steps=self.steps_spin.value(),
            batch_size=self.batch_spin.value(),
            lr=self.lr_spin.value(),
            eval_every=self.eval_spin.value(),
            threads=self.threads_spin.value(),
        )
        return PretrainConfig.from_dict(data)

    def _update_estimate(self) -> None:
        try:
            cfg = self.current_config()
        except MtoError as exc:
            self.estimate_label.setText(f'<span style="color:{ERROR_RED}">{_esc(exc.message)}</span>')
            return
        count = parameter_estimate(cfg)
        self.estimate_label.setText(
            f"≈ {count / 1e6:.1f} M parameters" if count >= 1e5 else f"≈ {count / 1e3:.0f} k parameters"
        )

    def set_editable(self, editable: bool) -> None:
        """While pre-training runs the form shows its recipe and cannot be edited."""
        for widget in (
            self.recipe_combo,
            self.noise_spin,
            self.span_spin,
            self.d_model_spin,
            self.d_ff_spin,
            self.layers_spin,
            self.heads_spin,
            self.steps_spin,
            self.batch_spin,
            self.lr_spin,
            self.eval_spin,
            self.threads_spin,
            *self.weight_spins.values(),
        ):
            widget.setEnabled(editable)
