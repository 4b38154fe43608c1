"""From a data file to tokenized training examples and evaluation heads for one run."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path

from mto_studio.core.data import ColumnMapping, Example, Head, HeadSample, TaskData, load_task_data, sample_heads
from mto_studio.core.data.qa_framing import qa_framing
from mto_studio.core.data.sampling import cap_references, training_targets
from mto_studio.core.data.sources import is_builtin, resolve_split, split_file
from mto_studio.core.errors import ConfigError, DataError
from mto_studio.core.templates import Objective, SentinelStyle, Template, TemplateLibrary
from mto_studio.core.templates.render import Rendered
from mto_studio.core.templates.tokenized import encode_for_model


def world_file(split: str) -> Path:
    return Path(split_file("world", split))


def resolve_data_path(ref: str, split: str = "train") -> str:
    """The file that holds ``split`` of ``ref`` (built-in data sets have one per split; a path is itself)."""
    return split_file(ref, split) if is_builtin(ref) else ref


def load_for_run(ref: str, columns: str | None, relations: list[str] | None, split: str = "train") -> TaskData:
    """Load ``split`` from ``ref``. Errors name the split, so a bad validation or test file is told apart from a
    bad training file."""
    mapping = ColumnMapping.parse(columns) if columns else None
    try:
        data = load_task_data(ref, mapping, split=split)
    except DataError as exc:
        if split == "train":
            raise
        hint = exc.hint.replace("--data / File ▸ Open data", f"--{split}-data / the Data workbench's Splits box")
        raise DataError(f"{split} data: {exc.message}", hint) from None
    if relations:
        unknown = [r for r in relations if r not in data.relations]
        if unknown:
            raise DataError(
                f"relation(s) {unknown} are not in the {split} data ({Path(data.source).name})",
                f"the data has: {', '.join(data.relations)}",
            )
        data = data.subset([h.id for h in data.heads if h.relation in relations])
    return data


def _order(seed: str, head: Head) -> str:
    return hashlib.sha256(f"{seed}\x1f{head.id}".encode()).hexdigest()


def hold_out_validation(heads: list[Head], per_relation: int) -> tuple[list[Head], list[Head]]:
    """Take ``per_relation`` heads of each relation for validation: a fixed choice (independent of the run's
    seed and k) so every run of an experiment is selected on the same heads."""
    by_relation: dict[str, list[Head]] = {}
    for head in heads:
        by_relation.setdefault(head.relation, []).append(head)
    held: set[str] = set()
    for relation, pool in by_relation.items():
        if len(pool) < 2:
            raise DataError(
                f"relation '{relation}' has only {len(pool)} head(s)",
                "a relation needs at least 2 heads: one to train on, one to validate",
            )
        n = min(per_relation, len(pool) // 2) if len(pool) <= per_relation * 2 else per_relation
        held.update(h.id for h in sorted(pool, key=lambda h: _order("validation", h))[:n])
    return [h for h in heads if h.id not in held], [h for h in heads if h.id in held]


def cap_heads(heads: list[Head], per_relation: int) -> list[Head]:
    if not per_relation:
        return heads
    counts: dict[str, int] = {}
    kept = []
    for head in sorted(heads, key=lambda h: _order("cap", h)):
        if counts.get(head.relation, 0) < per_relation:
            counts[head.relation] = counts.get(head.relation, 0) + 1
            kept.append(head)
    order = {h.id: i for i, h in enumerate(heads)}
    return sorted(kept, key=lambda h: order[h.id])


@dataclass(frozen=True)
class Encoded:
    source: tuple[int, ...]  # soft-prompt positions hold -(index+1)
    target: tuple[int, ...]
    task: int  # relation index (prompt tuning)


@dataclass
class RunData:
    """Everything one run trains and evaluates on."""

    train: list[Encoded]
    train_rendered: list[Rendered]
    validation: list[Head]
    test: list[Head]
    sample: HeadSample
    relations: list[str]
    train_source: str
    test_source: str | None
    truncated: int = 0
    #: the validation file, or None when validation heads were held out of the training data
    validation_source: str | None = None
    #: training heads left out because validation or test holds them too
    removed_from_train: int = 0
    eval_sources: dict[str, list[tuple[int, ...]]] = field(default_factory=dict)
    eval_tasks: dict[str, list[int]] = field(default_factory=dict)
    #: per split and head: the text before and after the answer in a rebuilt target (a denoising family's Filling,
    #: Rendered.frame), None where the answer is the whole output; what prediction extraction strips
    eval_frames: dict[str, list[tuple[str, str] | None]] = field(default_factory=dict)
    #: the training rows (relation, input, chosen target), one per encoded example, in the same order
    train_rows: list[Example] = field(default_factory=list)
    #: references kept per validation/test head (0 = all), and how many evaluation heads lost references to it
    max_references: int = 0
    references_capped: int = 0
    #: multiple-choice (QA) data: evaluation scores accuracy (the generated text matched to a choice, and the
    #: choices ranked by likelihood)
    qa: bool = False
    #: QA, per split and head: each choice rendered as the target (token ids), for ranking the choices
    eval_choice_targets: dict[str, list[list[tuple[int, ...]]]] = field(default_factory=dict)


def check_qa_fit(data: TaskData, library: TemplateLibrary, template: Template) -> None:
    """A template that needs choices ({choices}, {label}, the per-example QA mixed) on completion data: ConfigError."""
    if data.kind != "qa" and library.uses_choices(template):
        raise ConfigError(
            f"template '{template.name}' is for multiple-choice (QA) data, but {Path(data.source).name} is "
            "completion data (input → target, no choices)",
            "use QA data with question, choices and answer (e.g. --data world-qa), or a completion template such "
            "as 'sup' or 'unsup-nat'",
        )


@dataclass
class Splits:
    """The three splits of a run before sampling: the training pool, the validation and the test heads. No head is
    in two of them: heads of the training file that are also validation or test heads are left out of training."""

    data: TaskData
    relations: list[str]
    pool: list[Head]
    validation: list[Head]
    test: list[Head]
    validation_source: str | None  # None: held out of the training data
    test_source: str | None  # None: no test split
    #: training heads left out because the validation or the test data holds them too
    removed_from_train: int = 0


def load_splits(cfg) -> Splits:
    """Load train, validation and test as ``cfg`` (TrainConfig) names them; errors name the split and its file.
    A head never serves two splits: validation and test files must not share heads (DataError), and training
    heads that also appear in validation or test are dropped from training (counted in ``removed_from_train``)."""
    data = load_for_run(cfg.data, cfg.columns, cfg.relations or None, "train")
    relations = sorted(data.relations)
    test_ref = resolve_split(cfg.data, cfg.test_data, "test")
    if test_ref:
        test = load_for_run(test_ref, cfg.columns, relations, "test").heads
        test_source = resolve_data_path(test_ref, "test")
    else:
        test, test_source = [], None
    test_ids = {h.id for h in test}
    validation_ref = resolve_split(cfg.data, cfg.validation_data, "validation")
    if validation_ref:
        validation = load_for_run(validation_ref, cfg.columns, relations, "validation").heads
        validation_source = resolve_data_path(validation_ref, "validation")
        shared = sum(h.id in test_ids for h in validation)
        if shared:
            raise DataError(
                f"the validation data ({Path(validation_source).name}) and the test data "
                f"({Path(test_source or '').name}) share {shared} of {len(validation)} heads",
                "pick validation and test files with different heads: a test score must not come "
                "from the heads that chose the checkpoint",
            )
        held_out = {h.id for h in validation} | test_ids
        pool = [h for h in data.heads if h.id not in held_out]
    else:
        candidates = [h for h in data.heads if h.id not in test_ids]
        pool, validation = hold_out_validation(candidates, cfg.validation_heads)
        validation_source = None
    removed = len(data.heads) - len(pool) - (0 if validation_ref else len(validation))
    if not pool:
        raise DataError(
            f"no training heads are left: all {len(data.heads)} are also validation or test heads",
            "the training file must hold heads that the validation and test files do not",
        )
    return Splits(data, relations, pool, validation, test, validation_source, test_source, removed)


def encode(tokenizer, text: str, max_length: int) -> tuple[tuple[int, ...], bool]:
    """The model's ids of a rendered text (BOS where the family has one, soft prompts as -(n+1), EOS kept when
    truncated) and whether it was truncated: templates.encode_for_model, the one encoding every part uses."""
    return encode_for_model(tokenizer, text, max_length)


def prepare_run_data(cfg, library: TemplateLibrary, template: Template, tokenizer, style: SentinelStyle) -> RunData:
    """Load, split, sample, render and tokenize the data of one run (cfg: TrainConfig)."""
    splits = load_splits(cfg)
    data, relations, validation, test = splits.data, splits.relations, splits.validation, splits.test
    test_source, validation_source = splits.test_source, splits.validation_source
    try:
        sample = sample_heads(splits.pool, cfg.shots, cfg.seed)
    except ConfigError as exc:
        if validation_source:
            raise
        raise ConfigError(
            f"{exc.message} left after holding out validation heads",
            f"{exc.hint}, or lower validation_heads (now {cfg.validation_heads})",
        ) from None
    chosen = set(sample.head_ids)
    train_heads = [h for h in splits.pool if h.id in chosen]
    task_of = {r: i for i, r in enumerate(relations)}
    validation, capped_validation = cap_references(cap_heads(validation, cfg.max_eval_heads), cfg.max_references)
    test, capped_test = cap_references(cap_heads(test, cfg.max_test_heads), cfg.max_references)
    if cfg.objectives:
        library.objectives.update({r: Objective(o) for r, o in cfg.objectives.items()})
    check_qa_fit(data, library, template)
    qa = data.kind == "qa"
    if qa and library.qa_framing is None:
        library.qa_framing = qa_framing
    encoded: list[Encoded] = []
    rendered_all: list[Rendered] = []
    rows: list[Example] = []
    truncated = 0
    for head in train_heads:
        for target in training_targets(head, cfg.seed, cfg.targets_per_head):
            rendered = library.render_head(template, head, target, style=style)
            source_ids, cut_s = encode(tokenizer, rendered.source, cfg.max_source_length)
            target_ids, cut_t = encode(tokenizer, rendered.target, cfg.max_target_length)
            truncated += cut_s or cut_t
            encoded.append(Encoded(source_ids, target_ids, task_of[head.relation]))
            rendered_all.append(rendered)
            rows.append(Example(head.relation, head.input, target))
    if not encoded:
        raise ConfigError("no training examples after sampling", "check the data, relations and shots")
    run = RunData(
        encoded,
        rendered_all,
        validation,
        test,
        sample,
        relations,
        data.source,
        test_source,
        truncated,
        validation_source=validation_source,
        removed_from_train=splits.removed_from_train,
        train_rows=rows,
        max_references=cfg.max_references,
        references_capped=capped_validation + capped_test,
        qa=qa,
    )
    for split, heads in (("validation", validation), ("test", test)):
        sources, tasks, frames, choice_targets = [], [], [], []
        for head in heads:
            rendered = library.render_head(template, head, style=style)
            sources.append(encode(tokenizer, rendered.source, cfg.max_source_length)[0])
            tasks.append(task_of[head.relation])
            frames.append(rendered.frame)
            if qa:
                choice_targets.append(_choice_targets(library, template, head, style, tokenizer, cfg))
        run.eval_sources[split] = sources
        run.eval_tasks[split] = tasks
        run.eval_frames[split] = frames
        if qa:
            run.eval_choice_targets[split] = choice_targets
    return run


def _choice_targets(library, template, head: Head, style, tokenizer, cfg) -> list[tuple[int, ...]]:
    """Each of ``head``'s choices rendered as the target (the answer text or its label), tokenized: what ranking
    scores."""
    out = []
    for index, choice in enumerate(head.choices):
        rendered = library.render_head(template, head, choice, style=style, answer=index)
        out.append(encode(tokenizer, rendered.target, cfg.max_target_length)[0])
    return out


def batch_plan(lengths: list[int], micro_batch: int, seed: int, epoch: int, group_by_length: bool) -> list[list[int]]:
    """The micro-batches of one epoch: a seeded shuffle; with grouping, examples are sorted by length inside
    windows of 50 micro-batches and the batches shuffled again, so padding is small and order still random."""
    rng = random.Random(f"{seed}:epoch:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if group_by_length:
        window = micro_batch * 50
        grouped = []
        for start in range(0, len(order), window):
            chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
            grouped += chunk
        batches = [grouped[i : i + micro_batch] for i in range(0, len(grouped), micro_batch)]
        rng.shuffle(batches)
        return batches
    return [order[i : i + micro_batch] for i in range(0, len(order), micro_batch)]


class BatchSchedule:
    """Micro-batch number m → example indices; epochs are re-planned deterministically, so resuming at any step
    reproduces the uninterrupted order."""

    def __init__(self, lengths: list[int], micro_batch: int, seed: int, group_by_length: bool) -> None:
        self.lengths, self.micro_batch, self.seed, self.group = lengths, micro_batch, seed, group_by_length
        self._plans: dict[int, list[list[int]]] = {}
        self.per_epoch = len(batch_plan(lengths, micro_batch, seed, 0, group_by_length))

    def __call__(self, m: int) -> list[int]:
        epoch, index = divmod(m, self.per_epoch)
        if epoch not in self._plans:
            self._plans = {epoch: batch_plan(self.lengths, self.micro_batch, self.seed, epoch, self.group)}
        return self._plans[epoch][index]
