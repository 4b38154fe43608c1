"""The Project: a project folder's settings in memory, where its files are, and the changes the app makes to it."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from mto_studio.core.data.loading import ColumnMapping
from mto_studio.core.data.sources import get_example, is_builtin, is_world, resolve_split, split_file
from mto_studio.core.errors import ConfigError, MtoError, TemplateError
from mto_studio.core.fsio import atomic_write_text
from mto_studio.core.models.loading import EMBEDDED_MODEL
from mto_studio.core.project.fileformat import (
    BUILTIN_DATA,
    DEFAULT_PROJECT_NAME,
    PHRASES_FILE,
    PROJECT_FILE,
    PROJECT_FORMAT,
    RUN_STORE_FILE,
    TEMPLATES_DIR,
    ProjectError,
    drop_none,
    parse_project,
)
from mto_studio.core.templates.fileformat import load_template
from mto_studio.core.templates.library import TemplateLibrary
from mto_studio.core.templates.model import Objective, Phrase, Template
from mto_studio.core.templates.phrases import PhraseTable, builtin_phrases, phrase_table_from_toml
from mto_studio.core.training.experiment_config import ExperimentConfig

DEFAULT_PROJECT_FOLDER = "default-project"
APP_NAME = "MTO Studio"
#: Overrides the per-user data folder (portable installs, tests).
DATA_DIR_ENV = "MTO_STUDIO_DATA_DIR"


def user_data_dir() -> Path:
    """The per-user folder for MTO Studio's data ($MTO_STUDIO_DATA_DIR, else the platform's data dir)."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_project_dir() -> Path:
    return user_data_dir() / DEFAULT_PROJECT_FOLDER


@dataclass
class Project:
    """One project. ``folder`` is where it is saved; paths inside project.toml may be relative to it."""

    folder: Path
    name: str = DEFAULT_PROJECT_NAME
    model: str = EMBEDDED_MODEL
    #: the training data: a file, "world" or "example:NAME" (built-in data sets bring their own other splits)
    data: str = BUILTIN_DATA
    #: the validation file (None: the data set's own validation split, else heads held out of the training data)
    validation_data: str | None = None
    #: the test file (None: the data set's own test split, else none: scores are then validation scores)
    test_data: str | None = None
    columns: ColumnMapping | None = None
    #: relation → objective decided by the analyzer (wins over the rule table in mixed templates)
    objectives: dict[str, Objective] = field(default_factory=dict)
    #: ExperimentConfig.to_dict() of each saved experiment
    experiments: list[dict[str, Any]] = field(default_factory=list)
    #: relation-phrase overrides on top of the built-in table
    phrases: dict[str, Phrase] = field(default_factory=dict)
    #: the project's own templates by name (saved in templates/ at once)
    templates: dict[str, Template] = field(default_factory=dict)
    run_store: str = RUN_STORE_FILE
    #: template files in templates/ that failed to load (skipped; shown to the user)
    template_errors: list[TemplateError] = field(default_factory=list, repr=False)
    _saved_state: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder).expanduser()

    # --- creating, loading, saving -------------------------------------------------------------------------
    @classmethod
    def new(cls, folder: str | os.PathLike, name: str | None = None, **settings: Any) -> Project:
        """A project in memory (not yet saved; ``is_modified`` is True until it is)."""
        folder = Path(folder).expanduser()
        return cls(folder=folder, name=name or folder.name or DEFAULT_PROJECT_NAME, **settings)

    @classmethod
    def create(
        cls, folder: str | os.PathLike, name: str | None = None, *, overwrite: bool = False, **settings: Any
    ) -> Project:
        """Create and save a project in ``folder``; refuses to overwrite an existing project."""
        folder = Path(folder).expanduser()
        if (folder / PROJECT_FILE).exists() and not overwrite:
            raise ProjectError(
                f"{folder} already holds a project",
                "open it (File ▸ Open project) or pick another folder",
                path=folder / PROJECT_FILE,
            )
        project = cls.new(folder, name, **settings)
        project.save()
        return project

    @classmethod
    def load(cls, path: str | os.PathLike) -> Project:
        """Load the project in ``path`` (its folder or its project.toml)."""
        path = Path(path).expanduser()
        file = path if path.name == PROJECT_FILE or path.is_file() else path / PROJECT_FILE
        if not file.is_file():
            raise ProjectError(
                f"no {PROJECT_FILE} in {file.parent}",
                "pick a folder created by MTO Studio (File ▸ New project makes one)",
                path=file,
            )
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProjectError(
                f"cannot read the file: {exc}", "check its permissions and save it as UTF-8 text", path=file
            ) from None
        project = cls.from_toml(text, file.parent, file)
        project._load_phrases()
        project._load_templates()
        project._saved_state = project._state()
        return project

    @classmethod
    def open_example(cls, name: str) -> Project:
        """The project of a shipped example (``atomic2020-xintent`` or ``example:atomic2020-xintent``): created on
        first use in the user data folder (the app's resources may be read-only), opened afterwards."""
        example = get_example(name)
        folder = user_data_dir() / "examples" / example.name
        if (folder / PROJECT_FILE).exists():
            return cls.load(folder)
        return cls.create(
            folder,
            f"Example: {example.title}",
            data=example.ref,
            validation_data=example.ref if "validation" in example.files else None,
            test_data=example.ref if "test" in example.files else None,
        )

    @classmethod
    def open_or_create_default(cls) -> Project:
        """The default project in the user data folder, created on first use (model mto-tiny, the world)."""
        folder = default_project_dir()
        if (folder / PROJECT_FILE).exists():
            return cls.load(folder)
        return cls.create(folder, DEFAULT_PROJECT_NAME)

    def save(self, folder: str | os.PathLike | None = None) -> Path:
        """Write project.toml and phrases.toml atomically. With ``folder``: save as a copy there (templates and
        the run store come along; relative data and model paths are made absolute) and make it this project's
        folder."""
        if folder is not None and Path(folder).expanduser().resolve() != self.folder.resolve():
            self._move_to(Path(folder).expanduser())
        self.folder.mkdir(parents=True, exist_ok=True)
        path = atomic_write_text(self.project_file, self.to_toml())
        if self.phrases:
            PhraseTable(self.phrases).save(self.phrases_file)
        elif self.phrases_file.exists():
            self.phrases_file.unlink()
        self._saved_state = self._state()
        return path

    def _move_to(self, target: Path) -> None:
        if (target / PROJECT_FILE).exists():
            raise ProjectError(
                f"{target} already holds a project", "pick an empty folder for the copy", path=target / PROJECT_FILE
            )
        old = self.folder
        for attr in ("data", "validation_data", "test_data", "model"):
            value = getattr(self, attr)
            if value and not is_builtin(value) and value != EMBEDDED_MODEL:
                relative = not Path(value).expanduser().is_absolute()
                if relative and (old / value).exists():
                    setattr(self, attr, str((old / value).resolve()))
        self.folder = target
        copied = TemplateLibrary(with_builtins=False)
        for name, template in list(self.templates.items()):
            copied.save(template, self.templates_dir)
            self.templates[name] = copied.get(name)
        old_store = old / self.run_store if not Path(self.run_store).is_absolute() else None
        if old_store is not None and old_store.is_file():
            # The store may be open elsewhere: SQLite's backup API copies a consistent snapshot.
            target.mkdir(parents=True, exist_ok=True)
            with sqlite3.connect(old_store) as source, sqlite3.connect(target / self.run_store) as copy:
                source.backup(copy)

    # --- the file format -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"format": PROJECT_FORMAT, "name": self.name, "model": self.model, "data": self.data}
        if self.validation_data:
            data["validation_data"] = self.validation_data
        if self.test_data:
            data["test_data"] = self.test_data
        data["run_store"] = self.run_store
        if self.columns is not None:
            data["columns"] = drop_none(self.columns.to_dict())
        if self.objectives:
            data["objectives"] = {rel: Objective(obj).value for rel, obj in sorted(self.objectives.items())}
        if self.experiments:
            data["experiments"] = [drop_none(e) for e in self.experiments]
        return data

    def to_toml(self) -> str:
        header = (
            '# MTO Studio project. Paths may be relative to this folder; data = "world" is the built-in '
            'world,\n# model = "mto-tiny" the embedded model. Templates live in templates/, phrase overrides '
            "in phrases.toml.\n"
        )
        return header + tomli_w.dumps(self.to_dict())

    @classmethod
    def from_toml(cls, text: str, folder: str | os.PathLike, file: Path | None = None) -> Project:
        """A project from the text of its project.toml (without its phrases and templates)."""
        return cls(folder=Path(folder), **parse_project(text, folder, file))

    def _load_phrases(self) -> None:
        if not self.phrases_file.is_file():
            return
        try:
            table = phrase_table_from_toml(self.phrases_file.read_text(encoding="utf-8"), PHRASES_FILE)
        except TemplateError as exc:
            raise ProjectError(exc.bare_message, exc.hint, path=self.phrases_file) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ProjectError(
                f"cannot read the file: {exc}", "save it as UTF-8 text", path=self.phrases_file
            ) from None
        self.phrases = dict(table)

    def _load_templates(self) -> None:
        self.templates, self.template_errors = {}, []
        if not self.templates_dir.is_dir():
            return
        for path in sorted(self.templates_dir.glob("*.toml")):
            try:
                template = load_template(path)
            except TemplateError as exc:
                self.template_errors.append(exc)
                continue
            self.templates[template.name] = template

    def _state(self) -> str:
        return self.to_toml() + "\x1e" + (PhraseTable(self.phrases).to_toml() if self.phrases else "")

    @property
    def is_modified(self) -> bool:
        """Whether project.toml or the phrase overrides differ from what was last saved or loaded."""
        return self._saved_state != self._state()

    # --- where things are ----------------------------------------------------------------------------------
    @property
    def project_file(self) -> Path:
        return self.folder / PROJECT_FILE

    @property
    def phrases_file(self) -> Path:
        return self.folder / PHRASES_FILE

    @property
    def templates_dir(self) -> Path:
        return self.folder / TEMPLATES_DIR

    @property
    def run_store_path(self) -> Path:
        path = Path(self.run_store).expanduser()
        return path if path.is_absolute() else self.folder / path

    def _resolve(self, ref: str) -> str:
        """An absolute path as is; a relative one against the project folder when it exists there; else ``ref``
        unchanged (a hub id, or a path the loader will report as missing)."""
        path = Path(ref).expanduser()
        if path.is_absolute():
            return str(path)
        inside = self.folder / path
        return str(inside) if inside.exists() else ref

    def split_ref(self, split: str) -> str | None:
        """The data reference that holds ``split`` ("train", "validation", "test"): the one set for it, else the
        data set's own (the world and the examples ship theirs); None when there is none."""
        explicit = {"train": self.data, "validation": self.validation_data, "test": self.test_data}[split]
        return resolve_split(self.data, explicit, split)

    def split_path(self, split: str) -> str | None:
        """The loadable file of ``split``, or None (validation: held out of train; test: no test split)."""
        ref = self.split_ref(split)
        if not ref:
            return None
        return split_file(ref, split) if is_builtin(ref) else self._resolve(ref)

    def data_path(self, split: str = "train") -> str:
        """The training data as a loadable path ('world' → the built-in world's file of ``split``)."""
        if is_builtin(self.data):
            return split_file(self.data, split)
        return self._resolve(self.data)

    def validation_data_path(self) -> str | None:
        return self.split_path("validation")

    def test_data_path(self) -> str | None:
        return self.split_path("test")

    def run_data_refs(self) -> dict[str, str | None]:
        """data / validation_data / test_data for a TrainConfig or ExperimentConfig: built-in references stay as
        they are (portable), the user's relative paths become loadable."""

        def ref(value: str | None) -> str | None:
            if not value:
                return None
            return value if is_builtin(value) else self._resolve(value)

        return {"data": ref(self.data), "validation_data": ref(self.validation_data), "test_data": ref(self.test_data)}

    def columns_spec(self) -> str | None:
        """The column mapping for a config's ``columns`` (None: the data's own columns are detected)."""
        return self.columns.spec() if self.columns is not None else None

    def model_ref(self) -> str:
        """The model reference for ``load_tokenizer``/``load_seq2seq`` (relative folders resolved)."""
        if self.model in ("", EMBEDDED_MODEL, "embedded"):
            return EMBEDDED_MODEL
        return self._resolve(self.model)

    @property
    def uses_builtin_data(self) -> bool:
        """The built-in world (an example is real data, and is treated as the user's)."""
        return is_world(self.data)

    # --- phrases, templates, objectives, experiments ---------------------------------------------------------
    def phrase_table(self) -> PhraseTable:
        """The built-in relation phrases with this project's overrides applied."""
        return builtin_phrases().overridden(self.phrases)

    def set_phrase(self, relation: str, phrase: Phrase | None) -> None:
        """Override ``relation``'s phrase; empty fields keep the built-in text, and None (or a phrase equal to the
        built-in one) removes the override."""
        if phrase is not None and phrase.clause and phrase.clause.count("{input}") != 1:
            raise ConfigError(
                f"the clause for '{relation}' must hold {{input}} exactly once", 'e.g. "After {input}, PersonX feels"'
            )
        base = builtin_phrases().get(relation, Phrase())
        if phrase is not None:
            # An empty field means "the built-in text", as PhraseTable.overridden reads it.
            phrase = Phrase(clause=phrase.clause or base.clause, connective=phrase.connective or base.connective)
        if phrase is None or phrase == base:
            self.phrases.pop(relation, None)
        else:
            self.phrases[relation] = phrase

    def library(self) -> TemplateLibrary:
        """Built-ins plus this project's templates, with its phrase table and objective decisions."""
        return TemplateLibrary(self.templates.values(), phrases=self.phrase_table(), objectives=self.objectives)

    def save_template(self, template: Template, *, replacing: str | None = None) -> Path:
        """Write ``template`` to templates/NAME.toml at once (atomic). ``replacing``: the name it had before a
        rename; that file is removed after the new one is written."""
        if template.name in _builtin_names() and template.name != replacing:
            raise MtoError(
                f"'{template.name}' is the name of a built-in template",
                "give the template another name (e.g. add -copy)",
            )
        library = TemplateLibrary(with_builtins=False)
        path = library.save(template, self.templates_dir)
        self.templates[template.name] = library.get(template.name)
        if replacing and replacing != template.name:
            self.delete_template(replacing)
        return path

    def delete_template(self, name: str) -> None:
        template = self.templates.pop(name, None)
        if template is None:
            raise MtoError(f"'{name}' is not one of this project's templates", "built-in templates cannot be deleted")
        path = Path(template.path) if template.path else self.templates_dir / f"{name}.toml"
        if path.exists():
            path.unlink()

    def set_objective(self, relation: str, objective: Objective | str | None) -> None:
        if objective is None:
            self.objectives.pop(relation, None)
            return
        objective = Objective(str(objective))
        if objective is Objective.MIXED:
            raise ConfigError(f"'{relation}' can be decided as filling or mapping, not mixed", "pick one of the two")
        self.objectives[relation] = objective

    def add_experiment(self, experiment: ExperimentConfig | dict[str, Any]) -> ExperimentConfig:
        """Validate and append an experiment; returns it as a config."""
        config = experiment if isinstance(experiment, ExperimentConfig) else ExperimentConfig.from_dict(experiment)
        self.experiments.append(config.to_dict())
        return config

    def experiment_configs(self) -> list[ExperimentConfig]:
        return [ExperimentConfig.from_dict(drop_none(e)) for e in self.experiments]


def _builtin_names() -> set[str]:
    return {t.name for t in TemplateLibrary() if t.builtin}
