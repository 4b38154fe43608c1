"""mark_interrupted leaves alone the runs and experiments a live worker owns."""

from mto_studio.core.jobs.events import RunStarted
from mto_studio.core.store import RunStore


def test_mark_interrupted_keeps_the_folders_a_worker_owns(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    live_experiment = store.create_experiment("live", {}, tmp_path / "live")
    dead_experiment = store.create_experiment("dead", {}, tmp_path / "dead")
    live = store.upsert_run(tmp_path / "live" / "r0", name="r0", experiment_id=live_experiment)
    dead = store.upsert_run(tmp_path / "dead" / "r0", name="r0", experiment_id=dead_experiment)
    for run in (live, dead):
        store.record(run, RunStarted("r0", "r0", 10))
    assert store.mark_interrupted(keep=[tmp_path / "live", tmp_path / "live" / "r0"]) == 1
    assert (store.run(live).status, store.run(dead).status) == ("running", "interrupted")
    statuses = {e.name: e.status for e in store.experiments()}
    assert statuses == {"live": "running", "dead": "interrupted"}
    assert store.mark_interrupted() == 1 and store.run(live).status == "interrupted"
