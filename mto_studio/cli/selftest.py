"""`mto-studio --self-test`: check the installation end to end; exit 0, or print what failed and exit 1."""

from __future__ import annotations

import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

CHECKS: list[tuple[str, Callable[[Path], str]]] = []


def check(name: str):
    def wrap(fn: Callable[[Path], str]) -> Callable[[Path], str]:
        CHECKS.append((name, fn))
        return fn

    return wrap


@check("import the core libraries")
def _imports(tmp: Path) -> str:
    import datasets  # noqa: F401
    import tokenizers  # noqa: F401
    import torch
    import transformers

    return f"torch {torch.__version__}, transformers {transformers.__version__}"


@check("render the built-in templates")
def _render(tmp: Path) -> str:
    from mto_studio.core.templates import BUILTIN_NAMES, TemplateLibrary

    library = TemplateLibrary()
    out = library.render("unsup-nat", "xIntent", "PersonX buys a ticket", "to see a film")
    assert out.source.endswith("<extra_id_0>") and out.target.startswith("<extra_id_0>"), out
    for name in BUILTIN_NAMES:
        library.render(name, "xAttr", "PersonX buys a ticket", "thrifty")
    return f"{len(BUILTIN_NAMES)} templates"


@check("the shipped examples load with their splits")
def _examples(tmp: Path) -> str:
    from mto_studio.core.data import load_task_data
    from mto_studio.core.data.sources import list_examples

    examples = list_examples()
    assert any(e.name == "atomic2020-xintent" for e in examples), "the ATOMIC-2020 example is missing"
    parts = []
    for example in examples:
        assert example.readme.is_file(), f"{example.name} has no README (source and licence)"
        counts = {split: len(load_task_data(example.ref, split=split).heads) for split in example.files}
        parts.append(f"{example.ref} " + "/".join(f"{s} {n}" for s, n in counts.items()) + " heads")
    return "; ".join(parts)


@check("read CSV, JSONL and Parquet files")
def _data_files(tmp: Path) -> str:
    """datasets' csv/json/parquet builders are imported by name at run time: a bundle must have collected them."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from mto_studio.core.data.loading import load_table

    rows = {"input": ["PersonX buys a ticket", "a kettle"], "target": ["to see a film", "the kitchen"]}
    folder = tmp / "data"
    folder.mkdir()
    pairs = list(zip(rows["input"], rows["target"], strict=True))
    (folder / "rows.csv").write_text("input,target\n" + "".join(f"{i},{t}\n" for i, t in pairs), encoding="utf-8")
    (folder / "rows.jsonl").write_text(
        "".join(json.dumps({"input": i, "target": t}) + "\n" for i, t in pairs), encoding="utf-8"
    )
    pq.write_table(pa.table(rows), folder / "rows.parquet")
    for name in ("rows.csv", "rows.jsonl", "rows.parquet"):
        table = load_table(folder / name)
        assert len(table) == 2 and table.columns == ["input", "target"], (name, len(table), table.columns)
    return "3 formats through datasets"


@check("load the embedded model")
def _model(tmp: Path) -> str:
    import time

    from mto_studio.core.models.loading import load_seq2seq

    start = time.perf_counter()
    model, tokenizer = load_seq2seq("mto-tiny")
    seconds = time.perf_counter() - start
    ids = tokenizer("The kettle is kept in <extra_id_0>.", return_tensors="pt").input_ids
    out = model.generate(input_ids=ids, max_new_tokens=6)
    return (
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters in {seconds:.2f} s; "
        f"fills '{tokenizer.decode(out[0], skip_special_tokens=True)}'"
    )


@check("train a few steps on the CPU and write a run")
def _train(tmp: Path) -> str:
    from mto_studio.core.jobs.events import RunFinished, StepLogged
    from mto_studio.core.store import RunStore, recorded
    from mto_studio.core.store.run_folder import RunFolder
    from mto_studio.core.training.config import TrainConfig
    from mto_studio.core.training.loop import train

    cfg = TrainConfig(
        data="world",
        model="mto-tiny",
        template="unsup-nat",
        shots=2,
        steps=6,
        batch_size=4,
        eval_every=0,
        max_eval_heads=1,
        max_test_heads=1,
        relations=["AtLocation"],
        device="cpu",
        save_model=False,
    )
    store = RunStore(tmp / "runs.sqlite")
    run_id = store.upsert_run(tmp / "run", name="self-test", config=cfg.to_dict())
    events = list(recorded(train(cfg, tmp / "run"), store, run_id))
    assert isinstance(events[-1], RunFinished) and events[-1].status == "finished", events[-1]
    losses = store.series(run_id, "loss")
    result = RunFolder(tmp / "run").result()
    assert losses and result["status"] == "finished" and store.run(run_id).status == "finished"
    store.close()
    steps = [e.step for e in events if isinstance(e, StepLogged)]
    return f"{steps[-1]} steps, loss {losses[0][2]:.2f} -> {losses[-1][2]:.2f}, run read back from the store"


@check("open and close the main window (offscreen)")
def _window(tmp: Path) -> str:
    import os
    import subprocess

    code = "import sys; from mto_studio.gui.app import self_test_window; sys.exit(self_test_window())"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MTO_SELFTEST_HOME=str(tmp / "home"))
    args = [sys.executable, "-c", code] if not getattr(sys, "frozen", False) else [sys.executable, "--window-check"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "window opened and closed"


def run_self_test() -> int:
    failures = 0
    with tempfile.TemporaryDirectory(prefix="mto-selftest-") as folder:
        for name, fn in CHECKS:
            start = time.perf_counter()
            try:
                detail = fn(Path(folder))
                print(f"ok    {name} ({time.perf_counter() - start:.1f} s) {detail}")
            except Exception as exc:  # report every failure, keep checking
                failures += 1
                print(f"FAIL  {name}: {type(exc).__name__}: {exc}")
                traceback.print_exc(limit=3, file=sys.stdout)
    print("self-test passed" if not failures else f"self-test FAILED ({failures} check(s))")
    return 0 if not failures else 1
