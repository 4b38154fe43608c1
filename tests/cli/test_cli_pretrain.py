"""`pretrain` from the command line: its training flags come from the recipe's TrainingSection fields and override
the recipe; a bad value is one line and exit 2."""

from pathlib import Path

from mto_studio.core.resources import resource
from tests.helpers import run_cli

PILOT = str(resource("recipes", "pilot.toml"))


def test_pretrain_flags_come_from_the_recipe_fields_and_show_no_field_defaults():
    from mto_studio.core.config import field_info
    from mto_studio.core.pretraining.recipe import TrainingSection

    text = " ".join(run_cli("pretrain", "--help").stdout.split())
    assert "each overrides the recipe's [training] value" in text
    for name in ("steps", "batch_size", "lr", "eval_every", "threads", "device", "seed"):
        info = field_info(TrainingSection, name)
        assert info.flag in text and " ".join(info.describe(with_default=False).split()) in text, name
    assert "default 3000" not in text, "the recipe, not the field, decides the step count"


def test_pretrain_bad_value_is_one_line_exit_2(tmp_path):
    done = run_cli("pretrain", "--recipe", PILOT, "--out", str(tmp_path / "m"), "--lr", "5")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "mto-studio: error: training.lr = 5.0 is above 1.0 — peak learning rate (AdamW)"
    ]
    assert not (tmp_path / "m").exists()


def test_pretrain_overrides_reach_the_saved_recipe(tmp_path):
    out = tmp_path / "m"
    done = run_cli("pretrain", "--recipe", PILOT, "--out", str(out), "--steps", "2", "--eval-every", "0",
                   "--batch-size", "4", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    saved = (Path(out) / "recipe.toml").read_text(encoding="utf-8")
    assert "steps = 2\n" in saved and "batch_size = 4\n" in saved
