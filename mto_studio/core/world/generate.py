"""The built-in commonsense world: heads, facts, the train/test split, and the texts through which its knowledge
is learned (Filling relations as sentences, Mapping relations as question → answer pairs).

Everything is a pure function of ``WorldConfig`` (its seed included), so the shipped files can be re-created
and checked byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from mto_studio.core.data.heads import Example, TaskData, head_id, task_data_from_examples
from mto_studio.core.fsio import atomic_write_json, atomic_write_text
from mto_studio.core.templates.model import Objective
from mto_studio.core.world import lexicon as L

RELATION_KIND: dict[str, Objective] = {
    **{r: Objective.FILLING for r in L.FILLING_RELATIONS},
    **{r: Objective.MAPPING for r in L.MAPPING_RELATIONS},
}


@dataclass(frozen=True)
class WorldConfig:
    seed: int = 13
    objects: int = 200
    events: int = 200
    test_fraction: float = 0.2
    tail_counts: tuple[int, ...] = (1, 2)
    tail_weights: tuple[float, ...] = (0.65, 0.35)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Fact:
    head: str
    kind: str  # object | event
    relation: str
    tails: tuple[str, ...]

    @property
    def objective(self) -> Objective:
        return RELATION_KIND[self.relation]


@dataclass(frozen=True)
class Probe:
    """A zero-shot check: a source with a sentinel (Filling) or a question (Mapping) and its references."""

    relation: str
    head: str
    source: str
    target: str
    references: tuple[str, ...]
    pattern: str


@dataclass
class World:
    config: WorldConfig
    facts: list[Fact]
    split: dict[str, str]  # head text → "train" | "test"

    # --- the dataset view -----------------------------------------------------------------------------------
    def examples(self, split: str | None = None) -> list[Example]:
        return [
            Example(f.relation, f.head, tail)
            for f in self.facts
            if split is None or self.split[f.head] == split
            for tail in f.tails
        ]

    def task_data(self, split: str | None = None) -> TaskData:
        return task_data_from_examples(self.examples(split), source=f"built-in world ({split or 'all'})")

    @property
    def relations(self) -> list[str]:
        return list(dict.fromkeys(f.relation for f in self.facts))

    def kinds(self) -> dict[str, str]:
        return {r: RELATION_KIND[r].value for r in self.relations}

    # --- pre-training texts ---------------------------------------------------------------------------------
    def knowledge_sentences(self, patterns: str = "train") -> list[tuple[str, tuple[int, int], Fact]]:
        """Every Filling fact in every pattern of the group: (sentence, tail char span, fact)."""
        out = []
        for fact in self.facts:
            if fact.objective is not Objective.FILLING:
                continue
            for pattern in L.SENTENCES[fact.relation][patterns]:
                for tail in fact.tails:
                    sentence, span = _fill(pattern, fact.head, tail)
                    if patterns == "train" and _coin(fact.head, fact.relation, pattern, tail):
                        # half of the corpus ends without the full stop, as fragments and titles do: a template
                        # ending in "… <extra_id_0>" must not look foreign to the model
                        sentence = sentence.rstrip(".")
                    out.append((sentence, span, fact))
        return out

    def supervised_pairs(self, patterns: str = "train") -> list[tuple[str, str, Fact]]:
        """Every Mapping fact as question → answer in every format of the group."""
        return [
            (fmt.format(h=f.head), tail, f)
            for f in self.facts
            if f.objective is Objective.MAPPING
            for fmt in L.QUESTIONS[f.relation][patterns]
            for tail in f.tails
        ]

    def adaptation_sentences(self) -> list[str]:
        """Unlabeled task-related text for MTO stage 2: held-out wordings of the *train* heads' facts only,
        so adapting never shows a test answer."""
        out = []
        for fact in self.facts:
            if self.split[fact.head] != "train":
                continue
            patterns = (
                L.SENTENCES[fact.relation]["heldout"]
                if fact.objective is Objective.FILLING
                else L.ADAPTATION_SENTENCES[fact.relation]
            )
            for i, tail in enumerate(fact.tails):
                out.append(_fill(patterns[i % len(patterns)], fact.head, tail)[0])
        return out

    # --- zero-shot probes -----------------------------------------------------------------------------------
    def fill_probes(self, patterns: str = "heldout", split: str | None = None) -> list[Probe]:
        """Filling facts as sentences with the tail replaced by <extra_id_0>, one per fact and pattern."""
        probes = []
        for fact in self.facts:
            if fact.objective is not Objective.FILLING or (split and self.split[fact.head] != split):
                continue
            for pattern in L.SENTENCES[fact.relation][patterns]:
                sentence, (a, b) = _fill(pattern, fact.head, "\x00")
                source = sentence[:a] + "<extra_id_0>" + sentence[b:]
                probes.append(Probe(fact.relation, fact.head, source, fact.tails[0], fact.tails, pattern))
        return probes

    def question_probes(self, patterns: str = "train", split: str | None = None) -> list[Probe]:
        return [
            Probe(f.relation, f.head, fmt.format(h=f.head), f.tails[0], f.tails, fmt)
            for f in self.facts
            if f.objective is Objective.MAPPING and (not split or self.split[f.head] == split)
            for fmt in L.QUESTIONS[f.relation][patterns]
        ]

    def chance_exact_match(self) -> dict[str, float]:
        """Exact match of always answering a relation's most common tail: the floor for zero-shot claims."""
        out = {}
        for relation in self.relations:
            facts = [f for f in self.facts if f.relation == relation]
            common, _ = Counter(t for f in facts for t in f.tails).most_common(1)[0]
            out[relation] = sum(common in f.tails for f in facts) / len(facts)
        return out

    # --- files ----------------------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        for split in ("train", "test"):
            lines = ["head\trelation\ttail"] + [f"{e.input}\t{e.relation}\t{e.target}" for e in self.examples(split)]
            atomic_write_text(folder / f"world-{split}.tsv", "\n".join(lines) + "\n")
        heads = {
            split: sorted({head_id(f.relation, f.head) for f in self.facts if self.split[f.head] == split})
            for split in ("train", "test")
        }
        atomic_write_json(
            folder / "split.json",
            {
                "config": self.config.to_dict(),
                "head_ids": heads,
                "heads": {h: s for h, s in sorted(self.split.items())},
            },
        )
        atomic_write_json(folder / "kinds.json", self.kinds())
        atomic_write_text(folder / "adaptation.txt", "\n".join(self.adaptation_sentences()) + "\n")
        from mto_studio.core.world.qa import save_world_qa

        save_world_qa(self, folder)
        return folder


def _coin(*parts: str) -> bool:
    """A fair, deterministic coin for a combination of strings (the same on every machine)."""
    return hashlib.sha256("\x1f".join(parts).encode()).digest()[0] % 2 == 0


def _fill(pattern: str, head: str, tail: str) -> tuple[str, tuple[int, int]]:
    """Fill a pattern; returns the sentence and the character span of the tail in it."""
    before, after = pattern.split("{t}")
    left = before.format(h=head)
    sentence = left + tail + after.format(h=head)
    if sentence and sentence[0].islower():
        sentence = sentence[0].upper() + sentence[1:]
    return sentence, (len(left), len(left) + len(tail))


def build_world(config: WorldConfig | None = None) -> World:
    config = config or WorldConfig()
    rng = random.Random(config.seed)
    if config.objects > len(L.OBJECTS) or config.events > len(L.EVENT_THINGS):
        raise ValueError(f"the lexicon has {len(L.OBJECTS)} objects and {len(L.EVENT_THINGS)} event things")
    objects = [f"the {noun}" for noun in L.OBJECTS]
    events = [f"PersonX {rng.choice(L.EVENT_VERBS)} {thing}" for thing in L.EVENT_THINGS]
    rng.shuffle(objects)
    rng.shuffle(events)
    objects, events = objects[: config.objects], events[: config.events]
    facts: list[Fact] = []
    for kind, heads in (("object", objects), ("event", events)):
        for head in heads:
            # Each head has a hidden category per relation group (chosen at random, so it cannot be read off the
            # head string); its tails come from that category's share of each relation's pool. Knowledge is then
            # structured like real commonsense (things of one kind share places and uses) and learnable.
            categories = {group: rng.randrange(L.CATEGORIES) for group in L.GROUPS[kind]}
            for relation in L.OBJECT_RELATIONS if kind == "object" else L.EVENT_RELATIONS:
                pool = L.category_tails(relation, categories[L.GROUP_OF[relation]])
                n = min(rng.choices(config.tail_counts, weights=config.tail_weights)[0], len(pool))
                facts.append(Fact(head, kind, relation, tuple(rng.sample(pool, n))))
    split: dict[str, str] = {}
    for heads in (objects, events):
        order = sorted(heads)
        rng.shuffle(order)
        n_test = round(len(order) * config.test_fraction)
        split.update({h: ("test" if i < n_test else "train") for i, h in enumerate(order)})
    return World(config, facts, split)


def world_summary(world: World) -> str:
    by_kind = Counter(world.split.values())
    return (
        f"{len(world.split)} heads ({by_kind['train']} train, {by_kind['test']} test), "
        f"{len(world.facts)} facts, {sum(len(f.tails) for f in world.facts)} triples, "
        f"{len(world.relations)} relations: " + ", ".join(f"{r} ({k})" for r, k in world.kinds().items())
    )


def load_kinds(path: str | Path) -> dict[str, str]:
    return json.loads(Path(path).read_text(encoding="utf-8"))
