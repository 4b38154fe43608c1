"""`mto-studio examples`: the data sets shipped with MTO Studio, their splits and how to use them."""

from __future__ import annotations

import argparse
from typing import Any


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the list as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json

    from mto_studio.core.data import load_task_data
    from mto_studio.core.data.sources import list_examples

    rows: list[dict[str, Any]] = []
    for example in list_examples():
        splits = {}
        for split, path in example.files.items():
            data = load_task_data(str(path))
            splits[split] = {"file": str(path), "rows": len(data.examples), "heads": len(data.heads)}
        rows.append({"name": example.ref, "title": example.title, "splits": splits, "readme": str(example.readme)})
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print("no examples are installed")
        return 0
    for row in rows:
        print(f"{row['name']}  {row['title']}")
        for split in ("train", "validation", "test"):
            info = row["splits"].get(split)
            text = f"{info['rows']} rows, {info['heads']} heads" if info else "none (scores are then validation scores)"
            print(f"  {split:<10} {text}")
        print(f"  use: mto-studio train --data {row['name']} …   (licence and source: {row['readme']})")
    return 0
