"""The analyzer on a project's library (its own templates and phrases), and a Stop sent while the model loads."""

import pytest

from mto_studio.core.analysis.analyze import (
    AnalysisCancelled,
    AnalysisConfig,
    analyze,
    report_from_dict,
    run_analysis,
)
from mto_studio.core.errors import TemplateError
from mto_studio.core.jobs.events import Progress, Stop
from mto_studio.core.project import Project
from mto_studio.core.templates import Phrase, template_from_dict


def test_project_templates_and_phrases_are_analysed(tmp_path, tiny_model_dir, small_world_tsv):
    project = Project.new(tmp_path / "p")
    project.templates["ask"] = template_from_dict(
        {"name": "ask", "objective": "mapping", "source": "question: {input} {rel}", "target": "{target}"}
    )
    project.set_phrase("AtLocation", Phrase(connective="is mostly found in"))
    library = project.library()
    cfg = AnalysisConfig(
        data=str(small_world_tsv),
        model=str(tiny_model_dir),
        strategies=["probe", "rules"],
        n=3,
        templates=["ask", "sup"],
        relations=["AtLocation"],
        bootstrap=50,
        distractors=2,
    )
    events = list(analyze(cfg, library=library))
    report = report_from_dict(events[-1].report)
    assert {s.template for s in report.relations[0].scores} == {"ask", "sup"}
    with pytest.raises(TemplateError, match="unknown template 'ask'"):
        run_analysis(cfg)  # the built-in library does not know the project's template
    assert "is mostly found in" in library.render("unsup-nat-short", "AtLocation", "a cup").source


def test_a_stop_during_model_loading_cancels_at_once(tiny_model_dir, small_world_tsv):
    gen = analyze(AnalysisConfig(data=str(small_world_tsv), model=str(tiny_model_dir), strategies=["probe"]))
    first = next(gen)
    assert isinstance(first, Progress) and first.message.startswith("loading")
    assert isinstance(gen.send(Stop()), AnalysisCancelled)


def test_ranking_only_mapping_templates_without_the_probe(tiny_model_dir, small_world_tsv):
    """No probe and no sentinel in any candidate: nothing needs a sentinel style, and nothing may crash on it."""
    report = run_analysis(
        AnalysisConfig(
            data=str(small_world_tsv),
            model=str(tiny_model_dir),
            strategies=["rules"],
            templates=["sup"],
            relations=["xIntent"],
            n=2,
            distractors=0,
            bootstrap=10,
        )
    )
    relation = report.relations[0]
    assert relation.decision.strategy == "rules" and [s.template for s in relation.scores] == ["sup"]
