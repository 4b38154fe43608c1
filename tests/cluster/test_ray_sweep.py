"""A 4-run sweep (2 templates × 2 seeds) on a local Ray cluster, two runs at once, gives the result table of the same
sweep run inline."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("ray")

from mto_studio.core.jobs.events import ExperimentFinished, RunStarted, WorkerStarted  # noqa: E402
from mto_studio.core.jobs.status import RunStatus  # noqa: E402
from mto_studio.core.store import RunStore  # noqa: E402
from mto_studio.core.training.experiment import run_experiment  # noqa: E402
from mto_studio.core.training.experiment_config import ExperimentConfig  # noqa: E402

pytestmark = pytest.mark.distributed

SWEEP = {
    "name": "ray-sweep",
    "data": "world",
    "model": "mto-tiny",
    "relations": ["AtLocation", "xIntent"],
    "templates": ["unsup-nat", "sup"],
    "shots": ["8"],
    "seeds": [0, 1],
    "train": {
        "steps": 10,
        "batch_size": 8,
        "warmup_steps": 5,
        "eval_every": 5,
        "max_eval_heads": 4,
        "max_test_heads": 4,
        "threads": 1,
    },
}


def _sweep(folder, **scheduling):
    store = RunStore(folder.parent / f"{folder.name}.sqlite")
    try:
        events = list(run_experiment(ExperimentConfig.from_dict(SWEEP), folder, store=store, **scheduling))
        statuses = sorted(row.status for row in store.runs())
    finally:
        store.close()
    return events, statuses, json.loads((folder / "tables.json").read_text())


def test_a_sweep_on_ray_gives_the_inline_table(cluster, tmp_path):
    _, inline_statuses, inline_tables = _sweep(tmp_path / "inline", runs_on="inline")
    events, statuses, tables = _sweep(tmp_path / "ray", runs_on="ray", parallel=2)

    assert tables == inline_tables
    assert sum(len(t["cells"]) for t in tables) >= 2 and all(t["cells"] for t in tables)
    assert statuses == inline_statuses == [RunStatus.FINISHED] * 4
    workers = [e for e in events if isinstance(e, WorkerStarted)]
    assert {w.backend for w in workers} == {"ray"}
    assert len({w.run_id for w in workers}) == 4
    assert len([e for e in events if isinstance(e, RunStarted)]) == 4
    finished = [e for e in events if isinstance(e, ExperimentFinished)]
    assert [f.status for f in finished] == ["finished"]
