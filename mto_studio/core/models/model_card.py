"""The model card (README.md) of a model the Objective Lab pre-trained: recipe, budget, what it knows."""

from __future__ import annotations

import json
from pathlib import Path

from mto_studio.core.fsio import atomic_write_text


def _pct(value: float) -> str:
    return f"{value:.3f}"


def write_model_card(folder: str | Path, *, effect_section: str = "", notes: str = "") -> Path:
    """Write README.md from pretrain_summary.json and recipe.toml in ``folder``."""
    folder = Path(folder)
    summary = json.loads((folder / "pretrain_summary.json").read_text())
    recipe = (folder / "recipe.toml").read_text()
    knowledge = summary["knowledge"]
    chance = summary["chance_exact_match"]
    kinds = summary["kinds"]
    filling = [r for r, k in kinds.items() if k == "filling"]
    mapping = [r for r, k in kinds.items() if k == "mapping"]
    chance_fill = sum(chance[r] for r in filling) / len(filling)
    chance_map = sum(chance[r] for r in mapping) / len(mapping)
    per_relation = "\n".join(
        f"| {rel} | {kinds[rel]} | {v['exact_match']:.2f} | {v['rougeL']:.2f} | {chance[rel]:.2f} |"
        for rel, v in sorted(summary["per_relation"].items(), key=lambda item: (kinds[item[0]], item[0]))
    )
    losses = ", ".join(f"{k} {v:.3f}" for k, v in summary["final_losses"].items())
    minutes = summary["wall_time_s"] / 60
    text = f"""---
license: apache-2.0
library_name: transformers
pipeline_tag: text2text-generation
tags: [t5, mto-studio, tiny]
---

# {summary["name"]}: the embedded default model of MTO Studio

A T5 encoder-decoder of {summary["parameters"] / 1e6:.2f} M parameters, pre-trained from scratch by MTO Studio's
Objective Lab on the product's built-in commonsense world (`resources/world/`). It exists so that the whole MTO
workflow runs offline on a laptop, and it is a controlled testbed: we know by construction through which
objective each relation's knowledge was learned.

- **Filling relations** ({", ".join(filling)}): seen only as natural sentences in which the tail continues the
  head (four or five paraphrase patterns each; two more are held out), learned by T5 span corruption and salient-span
  corruption (the tail masked).
- **Mapping relations** ({", ".join(mapping)}): seen only as question/instruction → answer pairs (five formats
  each, one of them the relation's name as a task prefix, `xIntent: …`; one more held out), never as sentences.

Load it like any local model:

```python
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
model = AutoModelForSeq2SeqLM.from_pretrained("resources/models/mto-tiny")
tokenizer = AutoTokenizer.from_pretrained("resources/models/mto-tiny")
```

## Training

| | |
|---|---|
| recipe | `resources/recipes/mto-tiny.toml` (copied below) |
| steps | {summary["steps"]} (batch {_recipe_value(recipe, "batch_size")}) |
| seeds | world {_recipe_value(recipe, "seed", section="world")}, training {_recipe_value(recipe, "seed", section="training")} |
| final losses | {losses} |
| wall time | {minutes:.0f} min on {summary["hardware"]}, device {summary["device"]}, {summary["threads"]} torch thread(s) |

Re-create it with `mto-studio pretrain --recipe resources/recipes/mto-tiny.toml --out DIR`.

## What it knows (zero-shot, greedy decoding, max over the fact's tails)

| probe | exact match | ROUGE-L | chance (most common tail) |
|---|---|---|---|
| fill held-out-wording sentences of Filling facts (`… <extra_id_0>.`) | {_pct(knowledge["fill_heldout_em"])} | {_pct(knowledge["fill_heldout_rougeL"])} | {chance_fill:.3f} |
| fill trained-wording sentences of Filling facts | {_pct(knowledge["fill_seen_em"])} | {_pct(knowledge["fill_seen_rougeL"])} | {chance_fill:.3f} |
| answer Mapping questions (trained formats) | {_pct(knowledge["qa_seen_em"])} | {_pct(knowledge["qa_seen_rougeL"])} | {chance_map:.3f} |
| answer Mapping questions (held-out format) | {_pct(knowledge["qa_heldout_em"])} | {_pct(knowledge["qa_heldout_rougeL"])} | {chance_map:.3f} |

Per relation (held-out wordings for Filling, trained formats for Mapping):

| relation | kind | exact match | ROUGE-L | chance |
|---|---|---|---|---|
{per_relation}

{effect_section}
{notes}

## Recipe

```toml
{recipe.strip()}
```
"""
    return atomic_write_text(folder / "README.md", text)


def _recipe_value(recipe: str, key: str, section: str = "training") -> str:
    import tomllib

    return str(tomllib.loads(recipe).get(section, {}).get(key, "?"))
