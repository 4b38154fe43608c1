"""The adaptation stage: rule splitting, labelling by objective, and an experiment that adapts first."""

from mto_studio.core.templates import Objective, TemplateLibrary
from mto_studio.core.training.adaptation import build_pairs, load_cues, read_sentences, rule_splitter


def test_rule_splitter_cuts_at_cues_and_keeps_substring_targets():
    cues = load_cues()
    left, right, cue = rule_splitter("PersonX paints the fence in order to impress a friend.", cues)
    assert (left, right, cue.relation) == ("PersonX paints the fence in order", "to impress a friend", "xIntent")
    left, right, cue = rule_splitter("Mira's kettle is usually stored in the garage.", cues)
    assert (left, right, cue.relation) == ("Mira's kettle is usually stored in", "the garage", "AtLocation")
    assert rule_splitter("Hello.", cues) is None


def test_pairs_are_labelled_by_objective_and_cover_the_world_text():
    sentences = read_sentences("world")
    pairs = build_pairs(sentences, TemplateLibrary())
    assert len(pairs) > 0.9 * len(sentences)
    assert all(p.target in p.sentence for p in pairs)
    by_relation = {p.relation: p.objective for p in pairs}
    assert by_relation["AtLocation"] is Objective.FILLING and by_relation["xIntent"] is Objective.MAPPING
    library = TemplateLibrary(objectives={"AtLocation": Objective.MAPPING})
    assert {p.objective for p in build_pairs(sentences[:50], library) if p.relation == "AtLocation"} == {
        Objective.MAPPING
    }


def test_experiment_with_adaptation_trains_from_the_adapted_model(tmp_path, tiny_model_dir, small_world_tsv):
    from mto_studio.core.jobs.events import ExperimentFinished, RunStarted
    from mto_studio.core.training.experiment import run_experiment
    from mto_studio.core.training.experiment_config import ExperimentConfig

    text = tmp_path / "adapt.txt"
    text.write_text("\n".join(read_sentences("world")[:60]) + "\n")
    cfg = ExperimentConfig(
        model=str(tiny_model_dir),
        data=str(small_world_tsv),
        templates=["unsup-nat"],
        baseline="unsup-nat",
        shots=["4"],
        seeds=[0],
        train={"steps": 10, "eval_every": 0},
        adaptation={"enabled": True, "source": str(text), "steps": 15},
    )
    events = list(run_experiment(cfg, tmp_path / "exp"))
    started = [e for e in events if isinstance(e, RunStarted)]
    assert started[0].run_id == "adaptation" and started[0].total_steps == 15
    adapted = tmp_path / "exp" / "adaptation" / "model"
    assert (adapted / "model.safetensors").is_file()
    assert started[1].config["model"] == str(adapted)
    assert isinstance(events[-1], ExperimentFinished) and events[-1].status == "finished"
