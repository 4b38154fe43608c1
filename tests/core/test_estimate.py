"""The estimate before a run or sweep: memory against real steps, disk against saved weights, the sweep's total,
the refusal when it will not fit, and the defaults a run resolves (learning rate by family, threads by cores)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mto_studio.core.models.loading import resolve_model_ref
from mto_studio.core.training.config import TrainConfig
from mto_studio.core.training.estimate import _shape_of_folder, estimate_run, estimate_sweep, model_shape, preflight
from mto_studio.core.training.experiment_config import ExperimentConfig

REPO = Path(__file__).resolve().parents[2]

#: real steps in a fresh process: peak RSS over the RSS before the model (torch, transformers, peft loaded)
MEASURE = """
import json, resource, sys, tempfile
import psutil, torch, peft
from transformers import T5Config, T5ForConditionalGeneration
from mto_studio.core.models.loading import resolve_model_ref
from mto_studio.core.training.config import TrainConfig
from mto_studio.core.training.estimate import _shape_of_folder, estimate_run
method, d, f, layers, vocab, b, s, t = sys.argv[1], *map(int, sys.argv[2:])
torch.set_num_threads(1); torch.manual_seed(0)
folder = tempfile.mkdtemp()
config = T5Config(d_model=d, d_ff=f, num_layers=layers, num_heads=8, d_kv=d // 8, vocab_size=vocab,
                  decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
config.save_pretrained(folder)
before = psutil.Process().memory_info().rss
model = T5ForConditionalGeneration(config).train()
if method == "lora":
    model = peft.get_peft_model(model, peft.LoraConfig(task_type=peft.TaskType.SEQ_2_SEQ_LM, r=8, lora_alpha=16))
params = [p for p in model.parameters() if p.requires_grad]
optimizer = torch.optim.AdamW(params, fused=True)
best = [p.detach().clone() for p in params]
ids, labels = torch.randint(5, vocab - 1, (b, s)), torch.randint(5, vocab - 1, (b, t))
for _ in range(2):
    optimizer.zero_grad(set_to_none=True)
    model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels, use_cache=False).loss.backward()
    optimizer.step()
# VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's peak (the test session's, hundreds of MB)
hwm = [line for line in open('/proc/self/status') if line.startswith('VmHWM:')]
peak = int(hwm[0].split()[1]) * 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
cfg = TrainConfig(method=method, model=folder, batch_size=b, max_source_length=s, max_target_length=t, threads=1)
estimate = estimate_run(cfg, _shape_of_folder(folder, 0), device="cpu")
print(json.dumps({"measured": peak - before, "estimated": estimate.memory - estimate.memory_parts["runtime"]}))
"""


def test_the_memory_estimate_is_within_a_third_of_real_steps():
    # a t5-small-like shape, narrowed to keep the test fast: 2+2 layers of width 256, vocabulary 4000, batch 8 of
    # 128 → 32 tokens; fine-tuning and LoRA side by side, each in a fresh process
    shape = ["256", "1024", "2", "4000", "8", "128", "32"]
    jobs = {method: subprocess.Popen([sys.executable, "-c", MEASURE, method, *shape], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=REPO) for method in ("finetune", "lora")}  # fmt: skip
    for method, job in jobs.items():
        out, err = job.communicate(timeout=120)
        assert job.returncode == 0, err[-2000:]
        found = json.loads(out.strip().splitlines()[-1])
        assert 0.75 <= found["estimated"] / found["measured"] <= 1.33, (method, found)


def test_the_disk_estimate_matches_what_a_finished_run_keeps():
    shape = model_shape("mto-tiny")
    weights = (Path(resolve_model_ref("mto-tiny")) / "model.safetensors").stat().st_size
    finetune = estimate_run(TrainConfig(method="finetune"), shape, device="cpu")
    lora = estimate_run(TrainConfig(method="lora"), shape, device="cpu")
    # the saved model: its weights (tied ones once) and its config and tokenizer files, within 5 %
    assert abs(finetune.disk_kept - 2_000_000 - weights - shape.extra_files) < 0.05 * weights
    assert lora.disk_kept < 2_500_000 < finetune.disk_kept  # an adapter and the logs
    assert finetune.disk_peak > finetune.disk_kept + 3 * 3 * weights  # checkpoints: weights + 2 AdamW moments


def t5_base_shape(tmp_path):
    from transformers import T5Config

    T5Config(d_model=768, d_ff=3072, num_layers=12, num_heads=12, vocab_size=32128).save_pretrained(tmp_path)
    return _shape_of_folder(str(tmp_path), 0)


def test_an_18_run_lora_sweep_of_t5_base_keeps_under_1_gb(tmp_path):
    shape = t5_base_shape(tmp_path)
    assert 220e6 < shape.parameters < 225e6  # t5-base: 223 M
    grid = dict(model=str(tmp_path), templates=["unsup-nat", "sup"], shots=["8", "32", "full"], seeds=[0, 1, 2])
    lora = estimate_sweep(ExperimentConfig(methods=["lora"], **grid), shape)
    finetune = estimate_sweep(ExperimentConfig(methods=["finetune"], **grid), shape)
    assert lora.runs == finetune.runs == 18
    assert lora.disk_peak < 1e9, lora  # the goal of issue 14 item 4, with the running run's checkpoints
    assert finetune.disk_kept > 15e9  # 18 full models of 0.9 GB


def test_a_run_that_will_not_fit_is_refused_and_names_the_remedies(tmp_path):
    shape = model_shape("mto-tiny")
    estimate = estimate_run(TrainConfig(batch_size=512), shape, device="cpu")
    refused = preflight(estimate, tmp_path, memory_free=estimate.memory // 2)
    assert not refused.fits
    assert "not enough memory" in refused.problems[0] and "gradient_checkpointing" in refused.problems[0]
    tight = preflight(estimate, tmp_path, memory_free=int(estimate.memory * 1.05))
    assert tight.fits and tight.warnings and "memory is tight" in tight.warnings[0]
    assert preflight(estimate, tmp_path, memory_free=estimate.memory * 4).lines() == [
        preflight(estimate, tmp_path, memory_free=estimate.memory * 4).summary()
    ]
    checkpointed = estimate_run(TrainConfig(batch_size=512, gradient_checkpointing=True), shape, device="cpu")
    assert checkpointed.memory_parts["activations"] < estimate.memory_parts["activations"] / 2


def test_a_run_records_the_family_rate_and_the_cores_it_used(tmp_path, tiny_model_dir, small_world_tsv):
    from mto_studio.core.models.family import MTO_TINY, family_of_folder
    from mto_studio.core.training.precision import available_cores
    from mto_studio.core.training.run_setup import RunSetup, resolve_rates

    cfg = TrainConfig(model=str(tiny_model_dir), data=str(small_world_tsv), steps=2, validation_heads=2)
    assert cfg.lr is None and cfg.prompt_lr is None and cfg.threads is None
    run = RunSetup(cfg, tmp_path / "run")
    family = family_of_folder(tiny_model_dir)
    assert run.cfg.lr == family.learning_rate("finetune") and run.cfg.prompt_lr == family.learning_rate("prompt")
    assert run.cfg.threads == available_cores() and run.cfg.precision == "fp32"
    assert run.optimizer.param_groups[0]["lr"] == 0.0  # warm-up starts at 0 …
    assert run.scheduler.base_lrs == [family.learning_rate("finetune")]  # … towards the family's rate
    # the embedded model's rates are the defaults every embedded benchmark used (bit-identical runs)
    for method, rate in (("finetune", 1e-3), ("lora", 1e-3)):
        assert resolve_rates(TrainConfig(method=method), MTO_TINY).lr == rate
    assert resolve_rates(TrainConfig(method="prompt"), MTO_TINY).prompt_lr == 0.03


def test_the_rough_time_uses_the_datas_lengths_when_known_and_says_when_it_does_not():
    from mto_studio.core.models.loading import load_tokenizer
    from mto_studio.core.training.data import load_for_run
    from mto_studio.core.training.estimate import data_example_tokens

    cfg = TrainConfig(steps=100, batch_size=16, threads=1)
    task = load_for_run("world", None, None)
    tokens = data_example_tokens(load_tokenizer("mto-tiny"), task.examples)
    assert tokens is not None and 10 < tokens < 40  # short world sentences, far below the 128 + 32 max lengths
    at_max, at_data = estimate_run(cfg), estimate_run(cfg, example_tokens=tokens)
    assert at_data.step_seconds == pytest.approx(at_max.step_seconds * tokens / 160)
    assert "rough, at the max lengths" in preflight(at_max, REPO, memory_free=None).summary()
    assert "(rough: " in preflight(at_data, REPO, memory_free=None).summary()
