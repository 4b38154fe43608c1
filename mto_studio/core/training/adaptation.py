"""MTO stage 2, unsupervised adaptation: cut unlabeled task-related sentences into (input, target) pairs, label
each Filling or Mapping, and frame it with the template that objective calls for.

Splitters are pluggable (``SPLITTERS``): the built-in "rules" splitter cuts at cue phrases
(resources/adaptation/cues.toml); a pair keeps only targets that are substrings of the sentence. ``adapt`` runs
the stage before an experiment's runs.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path

from mto_studio.core.data.heads import Example
from mto_studio.core.errors import ConfigError, DataError
from mto_studio.core.fsio import atomic_write_text
from mto_studio.core.jobs.events import Command, Event, RunFailed, RunFinished
from mto_studio.core.jobs.status import RunStatus
from mto_studio.core.resources import resource
from mto_studio.core.store import RunStore, recorded
from mto_studio.core.store.run_folder import ExperimentFolder, RunFolder
from mto_studio.core.templates import Objective, TemplateLibrary
from mto_studio.core.training.config import Method
from mto_studio.core.training.experiment_config import ExperimentConfig

ADAPT_RELATION = "adapt"
MAX_TARGET_WORDS = 8


@dataclass(frozen=True)
class Cue:
    text: str
    relation: str | None = None


@dataclass(frozen=True)
class Pair:
    sentence: str
    input: str
    target: str
    relation: str
    objective: Objective
    cue: str


def load_cues(path: str | Path | None = None) -> list[Cue]:
    path = Path(path) if path else resource("adaptation", "cues.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the cue table {path}: {exc}", "fix the TOML at that line") from None
    return [Cue(c["text"], c.get("relation")) for c in data.get("cue", [])]


def rule_splitter(sentence: str, cues: list[Cue]) -> tuple[str, str, Cue] | None:
    """(input, target, cue) for the first cue that leaves a 1–8 word target, cutting at its right-most match."""
    text = sentence.strip().rstrip(".!?").strip()
    for cue in cues:
        at = text.rfind(cue.text)
        if at <= 0:
            continue
        left, right = text[: at + len(cue.text)].strip(" ,;"), text[at + len(cue.text) :].strip(" ,;")
        if left and right and 1 <= len(right.split()) <= MAX_TARGET_WORDS and right in sentence:
            return left, right, cue
    return None


SPLITTERS: dict[str, Callable[[str, list[Cue]], tuple[str, str, Cue] | None]] = {"rules": rule_splitter}


def build_pairs(
    sentences: list[str], library: TemplateLibrary, *, splitter: str = "rules", cues: list[Cue] | None = None
) -> list[Pair]:
    """Split and label every sentence that a cue fits; the others are skipped."""
    if splitter not in SPLITTERS:
        raise ConfigError(f"unknown splitter '{splitter}'", f"use one of {', '.join(SPLITTERS)}")
    cues = cues if cues is not None else load_cues()
    split = SPLITTERS[splitter]
    pairs = []
    for sentence in sentences:
        found = split(sentence, cues)
        if found is None:
            continue
        left, right, cue = found
        relation = cue.relation or ADAPT_RELATION
        objective = library.objective_for(relation)[0] if cue.relation else Objective.FILLING
        pairs.append(Pair(sentence, left, right, relation, objective, cue.text))
    return pairs


def read_sentences(source: str, max_sentences: int = 0) -> list[str]:
    path = resource("world", "adaptation.txt") if source in ("world", "builtin:world") else Path(source)
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as exc:
        raise DataError(
            f"cannot read adaptation text {path}: {exc.strerror}", "give a text file, one sentence a line"
        ) from None
    if not lines:
        raise DataError(f"adaptation text {path} is empty", "give a text file with one sentence per line")
    return lines[:max_sentences] if max_sentences else lines


def pairs_to_examples(pairs: list[Pair]) -> tuple[list[Example], dict[str, str]]:
    """Examples for training and the objective of each relation (Filling pairs → unsup framing, since the cue is
    already in the input; Mapping pairs → sup framing with the relation as prefix)."""
    examples = [Example(p.relation, p.input, p.target) for p in pairs]
    objectives = {p.relation: p.objective.value for p in pairs}
    return examples, objectives


def write_pairs_tsv(pairs: list[Pair], path: str | Path) -> Path:
    lines = ["input\ttarget\trelation"] + [f"{p.input}\t{p.target}\t{p.relation}" for p in pairs]
    return atomic_write_text(path, "\n".join(lines) + "\n")


def adapt(
    cfg: ExperimentConfig, folder: Path, store: RunStore | None, experiment_id: int
) -> Generator[Event, Command | None, str | None]:
    """The adaptation stage as a run; returns (via StopIteration) the adapted model folder or None."""
    from mto_studio.core.training.loop import train

    run_dir = ExperimentFolder(folder).adaptation.path
    model_dir = run_dir / "model"
    if RunFolder(run_dir).status() is RunStatus.FINISHED and model_dir.is_dir():
        return str(model_dir)
    library = TemplateLibrary(objectives={r: Objective(o) for r, o in cfg.objectives.items()})
    pairs = build_pairs(
        read_sentences(cfg.adaptation.source, cfg.adaptation.max_sentences), library, splitter=cfg.adaptation.splitter
    )
    if not pairs:
        raise ConfigError(
            "the splitter found no (input, target) pairs in the adaptation text",
            "check the text, or add cue phrases to resources/adaptation/cues.toml",
        )
    _, objectives = pairs_to_examples(pairs)
    data_path = write_pairs_tsv(pairs, folder / "adaptation-pairs.tsv")
    atomic_write_text(
        folder / "adapt-mixed.toml", 'name = "adapt-mixed"\nobjective = "mixed"\nfilling = "unsup"\nmapping = "sup"\n'
    )
    base = cfg.base_train_config()
    run_cfg = base.replace(
        data=str(data_path),
        validation_data=None,
        test_data=None,
        columns=None,
        relations=[],
        template=str(folder / "adapt-mixed.toml"),
        method=Method.FINETUNE,
        shots=None,
        steps=cfg.adaptation.steps,
        lr=cfg.adaptation.lr,
        eval_every=0,
        validation_heads=2,
        max_eval_heads=4,
        select_best=False,
        save_model=True,
        objectives=objectives,
        name="adaptation stage",
    )
    resume = RunFolder(run_dir).is_resumable()
    events = train(None if resume else run_cfg, run_dir, resume=resume, run_id="adaptation")
    if store is not None:
        run_pk = store.upsert_run(
            run_dir, name="adaptation stage", experiment_id=experiment_id, config=run_cfg.to_dict()
        )
        events = recorded(events, store, run_pk)
    command = None
    while True:
        try:
            event = events.send(command)
        except StopIteration:
            break
        command = yield event
        if isinstance(event, (RunFailed,)) or (isinstance(event, RunFinished) and event.status != "finished"):
            return None
    return str(model_dir)
