"""Helpers for tests: tiny tokenizers and models built on the spot (nothing is downloaded)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CORPUS = [
    "PersonX buys a ticket because PersonX wants to see a film.",
    "PersonX accepts PersonY invitation because PersonX wants to enjoy the evening.",
    "a cup is typically kept in the kitchen cupboard.",
    "xIntent: PersonX gives a gift. to make someone happy.",
    "PersonX adds sugar to the tea so PersonX feels relaxed and calm.",
] * 20

#: a short mto-tiny run for the backend tests and benchmarks: 30 steps at k = 8 on two relations, scored on a few
#: heads, one torch thread
SHORT_RUN = {
    "model": "mto-tiny",
    "data": "world",
    "template": "unsup-nat",
    "relations": ["AtLocation", "xIntent"],
    "shots": 8,
    "steps": 30,
    "batch_size": 8,
    "warmup_steps": 5,
    "eval_every": 10,
    "max_eval_heads": 4,
    "max_test_heads": 4,
    "threads": 1,
}


def drain(stream, commands=None):
    """Iterate an event stream to its end; ``commands(event)`` says what to send after each event (None: nothing).
    Returns the events and the stream's return value."""
    events, command = [], None
    while True:
        try:
            event = stream.send(command)
        except StopIteration as done:
            return events, done.value
        events.append(event)
        command = commands(event) if commands else None


def build_tiny_tokenizer(folder: Path, vocab_size: int = 300, extra_texts: list[str] | None = None):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import AutoTokenizer, T5TokenizerFast

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>"
    )
    tok.train_from_iterator(CORPUS + list(extra_texts or []), trainer)
    import json

    vocab = [tuple(item) for item in json.loads(tok.to_str())["model"]["vocab"]]
    T5TokenizerFast(vocab=vocab, extra_ids=100).save_pretrained(folder)
    return AutoTokenizer.from_pretrained(folder)


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run `python -m mto_studio ARGS` in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "mto_studio", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


def build_tiny_model(
    folder: Path,
    *,
    d_model: int = 32,
    layers: int = 1,
    seed: int = 0,
    vocab_size: int = 300,
    extra_texts: list[str] | None = None,
) -> Path:
    """A randomly initialised T5 of ~100k parameters with the tiny tokenizer, saved as a model folder.
    ``extra_texts`` join the tokenizer's corpus (so a test's data is not spelt out letter by letter)."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    tokenizer = build_tiny_tokenizer(folder, vocab_size, extra_texts)
    torch.manual_seed(seed)
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=d_model,
        d_ff=d_model * 2,
        d_kv=8,
        num_layers=layers,
        num_decoder_layers=layers,
        num_heads=4,
        dropout_rate=0.0,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=True,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    T5ForConditionalGeneration(config).save_pretrained(folder)
    return folder


def nan_loss_at_step(step: int, *, seed: int | None = None):
    """Make the training loss NaN at optimizer step ``step`` (grad_accum 1) of runs with ``seed`` (any when None):
    replaces MethodRun.forward in this process and returns the real one. In-process tests restore it with
    monkeypatch (``monkeypatch.setattr(MethodRun, "forward", real)`` first); a child process calls it before the
    CLI runs."""
    from mto_studio.core.training import methods

    real = methods.MethodRun.forward

    def forward(self, *args):
        out = real(self, *args)
        self._test_forward_calls = getattr(self, "_test_forward_calls", 0) + 1
        if self._test_forward_calls == step and (seed is None or self.cfg.seed == seed):
            out.loss = out.loss * float("nan")
        return out

    methods.MethodRun.forward = forward
    return real


def tiny_recipe(*, description: str = "", objectives: dict | None = None, **training) -> str:
    """A pre-training recipe small enough for tests (a 40-object world, a 400-token vocabulary, a 1+1-layer T5 of
    width 32); ``training`` sets its [training] values, ``objectives`` its mix."""
    lines = ['name = "tiny-lab"']
    if description:
        lines.append(f'description = "{description}"')
    lines += ["[world]", "objects = 40", "events = 40", "[tokenizer]", "vocab_size = 400", "[model]", "d_model = 32",
              "d_ff = 64", "num_layers = 1", "num_decoder_layers = 1", "num_heads = 2", "d_kv = 16"]  # fmt: skip
    if objectives:
        lines += ["[objectives]", *(f"{key} = {value}" for key, value in objectives.items())]
    lines += ["[training]", *(f"{key} = {value}" for key, value in training.items())]
    return "\n".join(lines) + "\n"
