"""The CLI on multiple-choice (QA) data: render shows the choices, train prints accuracy, and a QA template on
completion data is one line on stderr with exit 2."""

from tests.helpers import run_cli


def test_render_shows_the_choices_and_the_answer():
    done = run_cli("render", "--data", "world-qa", "--template", "qa-unsup", "--rows", "1")
    assert done.returncode == 0, done.stderr
    assert "choice1: the hallway closet choice2: the cellar" in done.stdout
    assert "the correct choice is <extra_id_0>" in done.stdout
    assert "*the cellar" in done.stdout and "(answer B; template qa-unsup)" in done.stdout


def test_a_qa_template_on_completion_data_is_exit_2_with_the_fix():
    done = run_cli("render", "--data", "world", "--template", "qa-sup", "--rows", "1")
    assert done.returncode == 2
    assert "template 'qa-sup' is for multiple-choice (QA) data" in done.stderr
    assert "--data world-qa" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_train_on_world_qa_prints_accuracy(tmp_path):
    done = run_cli(
        "train", "--data", "world-qa", "--template", "qa-sup", "--relations", "HasProperty", "--shots", "8",
        "--steps", "4", "--eval-every", "0", "--set", "max_test_heads=4", "--set", "max_eval_heads=2",
        "--set", "save_model=false", "--out", str(tmp_path / "run"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("Test accuracy:"))
    assert "matched to the nearest choice" in line and "ranked by likelihood" in line
