"""`train` and `sweep` show their estimate before they start, and refuse (exit 2, one line) what cannot fit."""

from tests.helpers import run_cli


def test_train_prints_its_estimate_before_it_starts(tmp_path, tiny_model_dir, small_world_tsv):
    done = run_cli("train", "--model", str(tiny_model_dir), "--data", str(small_world_tsv), "--steps", "2",
                   "--eval-every", "0", "--out", str(tmp_path / "run"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("estimate for this run (cpu, fp32): peak memory"), done.stdout
    assert "kept" in first and "rough:" in first and "free" in first


def test_sweep_prints_the_disk_of_all_its_runs_first(tmp_path, tiny_model_dir, small_world_tsv):
    done = run_cli("sweep", "--model", str(tiny_model_dir), "--data", str(small_world_tsv), "--templates",
                   "unsup-nat", "--shots", "full", "--seeds", "2", "--steps", "2",
                   "--eval-every", "0", "--out", str(tmp_path / "exp"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("estimate for 2 runs (cpu, fp32)") and "disk " in first and " kept" in first, first


def test_a_run_that_cannot_fit_in_memory_is_refused_with_exit_2(tmp_path, tiny_model_dir, small_world_tsv):
    out = tmp_path / "run"
    done = run_cli("train", "--model", str(tiny_model_dir), "--data", str(small_world_tsv), "--steps", "2",
                   "--batch-size", "8192", "--set", "max_source_length=8192", "--out", str(out))  # fmt: skip
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("mto-studio: error: not enough memory: the run needs about"), line
    assert "gradient_checkpointing" in line and "--force" in line and "Traceback" not in done.stderr
    assert not out.exists()
    sweep = run_cli("sweep", "--model", str(tiny_model_dir), "--data", str(small_world_tsv), "--templates",
                    "unsup-nat", "--shots", "full", "--seeds", "1", "--batch-size", "8192", "--set",
                    "max_source_length=8192", "--out", str(tmp_path / "exp"))  # fmt: skip
    assert sweep.returncode == 2 and "not enough memory" in sweep.stderr and not (tmp_path / "exp").exists()


def test_the_embedded_model_on_foreign_data_is_warned_before_training(tmp_path):
    """The domain check runs with the estimate: mto-tiny on the shipped ATOMIC rows (not its world) is told to
    choose a pre-trained model; on its own world it is not."""
    foreign = run_cli("train", "--data", "example:atomic2020-xintent", "--steps", "1", "--eval-every", "0",
                      "--out", str(tmp_path / "atomic"))  # fmt: skip
    assert foreign.returncode == 0, foreign.stderr
    warnings = [line for line in foreign.stdout.splitlines() if line.startswith("warning: ")]
    assert any("does not know your domain: choose a pre-trained model" in line for line in warnings), foreign.stdout
    home = run_cli("train", "--data", "world", "--relations", "AtLocation", "--steps", "1", "--eval-every", "0",
                   "--out", str(tmp_path / "world"))  # fmt: skip
    assert home.returncode == 0, home.stderr
    assert "domain" not in home.stdout and "fragments" not in home.stdout, home.stdout
