"""Bad input, as a user gives it to the real CLI: exit 2, exactly one line on stderr, no traceback, and a message
that names what is wrong (the file, column, row, line, field or value) — never a traceback, never a silent accept.

Every case is an `mto-studio` command line run in a folder of its own, where its files are written first. The
table runs in two processes through ``cli_batch.py`` (each command line as `python -m mto_studio` runs it, with its
own stdout/stderr file descriptors; one torch start-up per process instead of one per case); a sample of cases is
also run as separate processes and must give the same exit code and stderr. A case that passes ``--out {d}/out``
also checks that nothing was left there. A case can be marked xfail with the change it still needs (none is, today).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from mto_studio.core.resources import resource
from tests.helpers import run_cli
from tests.reliability.cli_batch import run_batches

TINY = resource("models", "mto-tiny")
PILOT = str(resource("recipes", "pilot.toml"))
GOOD_TSV = "head\trelation\ttail\ncup\tAtLocation\tkitchen\nbook\tAtLocation\tshelf\n"
NEEDS_CLI = "needs the CLI change: "

Writer = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    names: tuple[str, ...]  # words the one stderr line must contain
    files: dict[str, str | bytes | Writer] = field(default_factory=dict)
    xfail: str | None = None
    skip: str | None = None


def case(id, args: str, *names: str, files=None, xfail=None, skip=None) -> Case:
    return Case(id, tuple(args.split()), names, dict(files or {}), xfail, skip)


# --- file writers -------------------------------------------------------------------------------------------------
def parquet(build: Callable) -> Writer:
    """A Parquet file of the table ``build(pyarrow)`` returns."""

    def write(path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(build(pa), path)

    return write


def symlink_to(target: str) -> Writer:
    return lambda path: os.symlink(path.parent / target, path)


def folder(path: Path) -> None:
    path.mkdir()


def model_files(*names: str, extra: dict[str, str] | None = None) -> Writer:
    """A model folder with these files of the embedded model, and ``extra`` files written as given."""

    def write(path: Path) -> None:
        path.mkdir()
        for name in names:
            shutil.copy(TINY / name, path / name)
        for name, text in (extra or {}).items():
            (path / name).write_text(text, encoding="utf-8")

    return write


def read_only_folder(path: Path) -> None:
    path.mkdir()
    path.chmod(0o555)


def jsonl(*rows) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


WEIGHTS = ("config.json", "model.safetensors")
TOKENIZER = ("tokenizer.json", "tokenizer_config.json")
RENDER = "render --template sup --data"
TEMPLATE = "render --data {d}/kb.tsv --template"
KB = {"kb.tsv": GOOD_TSV}
MAPPING_OK = 'name = "t"\nobjective = "mapping"\nsource = "{input}"\ntarget = "{target}"\n'

# fmt: off
CASES = [
    # --- files ---------------------------------------------------------------------------------------------------
    case("file-missing", f"{RENDER} {{d}}/nope.tsv", "data file not found", "nope.tsv"),
    case("file-is-folder", f"{RENDER} {{d}}/data.tsv", "is a folder", files={"data.tsv": folder}),
    case("file-empty", f"{RENDER} {{d}}/e.tsv", "data file is empty", files={"e.tsv": ""}),
    case("file-header-only", f"{RENDER} {{d}}/h.tsv", "no rows", files={"h.tsv": "head\trelation\ttail\n"}),
    case("file-unsupported-suffix", f"{RENDER} {{d}}/d.txt", "unsupported data format '.txt'", files={"d.txt": "x"}),
    case("file-symlink-loop", f"{RENDER} {{d}}/a.tsv", "symbolic link loop", "a.tsv",
         files={"a.tsv": symlink_to("b.tsv"), "b.tsv": symlink_to("a.tsv")}),
    case("file-dangling-link", f"{RENDER} {{d}}/a.tsv", "a link to", "gone.tsv", "does not exist",
         files={"a.tsv": symlink_to("gone.tsv")}),
    case("tsv-ragged-row", f"{RENDER} {{d}}/r.tsv", "r.tsv", "Expected 3 fields in line 3, saw 4",
         files={"r.tsv": "head\trelation\ttail\ncup\tAtLocation\tkitchen\nx\ty\tz\tw\n"}),
    case("csv-ragged-row", f"{RENDER} {{d}}/r.csv", "r.csv", "Expected 3 fields in line 4, saw 5",
         files={"r.csv": "head,relation,tail\ncup,AtLocation,kitchen\na,b,c\nx,y,z,w,v\n"}),
    case("csv-unclosed-quote", f"{RENDER} {{d}}/q.csv", "q.csv", "quoted field is never closed",
         files={"q.csv": 'input,target\n"abc,def\nx,y\n'}),
    case("jsonl-broken-line", f"{RENDER} {{d}}/b.jsonl", "b.jsonl", "line 2, column 26",
         files={"b.jsonl": '{"input": "a", "target": "b"}\n{"input": "a", "target": \n'}),
    case("jsonl-line-is-a-list", f"{RENDER} {{d}}/l.jsonl", "line 2 holds a list",
         files={"l.jsonl": '{"input": "a", "target": "b"}\n[1, 2]\n'}),
    case("json-syntax-error", f"{RENDER} {{d}}/b.json", "b.json", "line 2, column 16", "Expecting ',' delimiter",
         files={"b.json": '[{"input": "a", "target": "b"},\n {"input": "a" "target": "b"}]\n'}),
    case("json-scalar", f"{RENDER} {{d}}/s.json", "s.json", "holds a number", files={"s.json": "5"}),
    case("json-list-of-numbers", f"{RENDER} {{d}}/n.json", "row 1 is a number", files={"n.json": "[1, 2]"}),
    case("json-list-of-lists", f"{RENDER} {{d}}/n.json", "row 1 is a list", files={"n.json": "[[1, 2]]"}),
    case("parquet-not-parquet", f"{RENDER} {{d}}/p.parquet", "p.parquet", "magic bytes",
         files={"p.parquet": "not parquet at all"}),
    case("format-flag-wrong", f"{RENDER} {{d}}/kb.tsv --format parquet", "as PARQUET", "magic bytes", files=KB),
    case("csv-utf16", f"{RENDER} {{d}}/u.csv", "u.csv", "UTF-16", "UTF-8",
         files={"u.csv": "input,target\na,b\n".encode("utf-16")}),
    case("tsv-latin1", f"{RENDER} {{d}}/l.tsv", "l.tsv", "can't decode byte 0xe9", "UTF-8",
         files={"l.tsv": "head\trelation\ttail\ncafé\tAtLocation\tkitchen\n".encode("latin-1")}),
    case("csv-is-a-zip", f"{RENDER} {{d}}/x.csv", "x.csv", "zip archive",
         files={"x.csv": b"PK\x03\x04\x14\x00\x00\x00garbage"}),
    case("no-rows-left", f"{RENDER} {{d}}/n.tsv", "no usable rows", "2 with an empty or 'none' target",
         files={"n.tsv": "head\trelation\ttail\ncup\tAtLocation\tnone\nbook\tAtLocation\t\n"}),
    case("example-unknown", f"{RENDER} example:nope", "no example named 'nope'"),
    # --- cells and columns ---------------------------------------------------------------------------------------
    case("jsonl-nested-input", f"{RENDER} {{d}}/n.jsonl", "n.jsonl", "column 'input', row 1", "an object",
         files={"n.jsonl": jsonl({"input": {"x": 1}, "target": "b"})}),
    case("jsonl-list-target", f"{RENDER} {{d}}/n.jsonl", "column 'target', row 1", "a list",
         files={"n.jsonl": jsonl({"input": "a", "target": ["b"]}, {"input": "c", "target": ["d", "e"]})}),
    case("jsonl-object-in-row-3", f"{RENDER} {{d}}/n.jsonl", "column 'input', row 3", "an object",
         files={"n.jsonl": jsonl({"input": "a", "target": "b"}, {"input": 7, "target": "c"},
                                 {"input": {"k": 1}, "target": "d"})}),
    case("jsonl-list-relation", f"{RENDER} {{d}}/n.jsonl", "column 'relation', row 1", "a list",
         files={"n.jsonl": jsonl({"head": "a", "relation": ["x"], "tail": "b"})}),
    case("jsonl-boolean", f"{RENDER} {{d}}/n.jsonl", "column 'target', row 1", "true/false",
         files={"n.jsonl": jsonl({"input": "a", "target": True})}),
    case("parquet-int-input-list-target", f"{RENDER} {{d}}/p.parquet", "column 'target', row 1", "a list",
         files={"p.parquet": parquet(lambda pa: pa.table({"input": [1, 2], "target": [[1.5], [2.0]]}))}),
    case("parquet-struct", f"{RENDER} {{d}}/p.parquet", "column 'target', row 1", "an object", "struct",
         files={"p.parquet": parquet(lambda pa: pa.table({"input": ["a"], "target": [{"x": 1}]}))}),
    case("parquet-map", f"{RENDER} {{d}}/p.parquet", "p.parquet", "map<string, string", "'input'",
         files={"p.parquet": parquet(lambda pa: pa.table({"target": ["b"], "input": pa.array(
             [[("k", "v")]], type=pa.map_(pa.string(), pa.string()))}))}),
    case("parquet-bytes", f"{RENDER} {{d}}/p.parquet", "column 'input', row 1", "bytes",
         files={"p.parquet": parquet(lambda pa: pa.table({"input": [b"\x00\x01"], "target": ["b"]}))}),
    case("parquet-timestamp", f"{RENDER} {{d}}/p.parquet", "column 'target', row 1", "date or time",
         files={"p.parquet": parquet(lambda pa: pa.table({"input": ["a"], "target": [datetime(2020, 1, 1)]}))}),
    case("tsv-nul-in-field", f"{RENDER} {{d}}/n.tsv", "NUL", "column 'head', row 1",
         files={"n.tsv": "head\trelation\ttail\ncu\0p\tAtLocation\tkitchen\n"}),
    case("csv-nul-in-target", f"{RENDER} {{d}}/n.csv", "NUL", "column 'target', row 2",
         files={"n.csv": "input,target\na,b\nc,d\0e\n"}),
    case("jsonl-nul", f"{RENDER} {{d}}/n.jsonl", "NUL", "column 'input', row 1",
         files={"n.jsonl": jsonl({"input": "a\0b", "target": "c"})}),
    case("csv-duplicate-column", f"{RENDER} {{d}}/d.csv", "d.csv", "'head' 2 times", "columns 1, 2",
         files={"d.csv": "head,head,tail\na,b,c\n"}),
    case("tsv-duplicate-column", f"{RENDER} {{d}}/d.tsv", "'tail' 2 times", "columns 3, 4",
         files={"d.tsv": "head\trelation\ttail\ttail\na\tb\tc\td\n"}),
    case("tsv-duplicate-column-mapped", f"{RENDER} {{d}}/d.tsv --columns input=head,target=tail", "'head' 2 times",
         files={"d.tsv": "head\thead\ttail\na\tb\tc\n"}),
    case("parquet-duplicate-column", f"{RENDER} {{d}}/d.parquet", "'input' 2 times", files={"d.parquet": parquet(
        lambda pa: pa.Table.from_arrays([pa.array(["a"])] * 3, names=["input", "input", "target"]))}),
    case("jsonl-duplicate-key", f"{RENDER} {{d}}/d.jsonl", "line 1", "'input' appears twice",
         files={"d.jsonl": '{"input": "a", "input": "z", "target": "b"}\n'}),
    case("columns-unrecognised", f"{RENDER} {{d}}/c.csv", "no recognisable columns", "'foo'",
         files={"c.csv": "foo,bar\n1,2\n"}),
    case("columns-missing", f"{RENDER} {{d}}/kb.tsv --columns input=nope,target=tail", "'nope' is not in kb.tsv",
         files=KB),
    case("columns-bad-spec", f"{RENDER} {{d}}/kb.tsv --columns head", "bad column mapping item 'head'", files=KB),
    case("columns-unknown-role", f"{RENDER} {{d}}/kb.tsv --columns input=head,target=tail,colour=x",
         "unknown role 'colour'", files=KB),
    case("columns-no-target", f"{RENDER} {{d}}/kb.tsv --columns input=head", "lacks target", files=KB),
    case("train-nested-data", "train --data {d}/n.jsonl --steps 1 --out {d}/out", "column 'input', row 1",
         files={"n.jsonl": jsonl({"input": {"x": 1}, "target": "b"})}),
    # --- templates -----------------------------------------------------------------------------------------------
    case("template-syntax", f"{TEMPLATE} {{d}}/t.toml", "t.toml", "line 3", "syntax error",
         files={**KB, "t.toml": 'name = "t"\nobjective = "mapping"\nsource = "{input}\ntarget = "{target}"\n'}),
    case("template-all-problems", f"{TEMPLATE} {{d}}/t.toml", "5 problems", "bad name 'bad name!'",
         "unknown field 'colour'", "unknown slot {bar}", "'{' is never closed", "missing objective",
         files={**KB, "t.toml": 'name = "bad name!"\ncolour = "red"\nsource = "{input} {bar}"\ntarget = "{target"\n'}),
    case("template-missing-patterns", f"{TEMPLATE} {{d}}/t.toml", "2 problems", "missing source", "missing target",
         files={**KB, "t.toml": 'name = "t"\nobjective = "filling"\n'}),
    case("template-objective-and-slot", f"{TEMPLATE} {{d}}/t.toml", "unknown objective 'sideways'",
         "line 3, field 'source', column 9: unknown slot {x}",
         files={**KB, "t.toml": 'name = "t"\nobjective = "sideways"\nsource = "{input} {x}"\ntarget = "{target}"\n'}),
    case("template-literal-sentinels", f"{TEMPLATE} {{d}}/t.toml", "'<extra_id_0>'", "'<extra_id_2>'", "{mask}",
         files={**KB, "t.toml": 'name = "t"\nobjective = "mapping"\nsource = "{input} <extra_id_0>"\n'
                                'target = "<extra_id_0> <extra_id_2> {target}"\n'}),
    case("template-literal-mask", f"{TEMPLATE} {{d}}/t.toml", "field 'source', column 14", "'<mask>'", "{mask}",
         files={**KB, "t.toml": 'name = "t"\nobjective = "filling"\nsource = "{input} is a <mask>"\n'
                                'target = "{mask} {target}"\n'}),
    case("template-literal-in-prefix", f"{TEMPLATE} {{d}}/t.toml", "prefix", "'<extra_id_1>'",
         files={**KB, "t.toml": MAPPING_OK + 'prefix = "fill <extra_id_1>"\n'}),
    case("template-literal-in-phrase", f"{TEMPLATE} {{d}}/t.toml", "connective for 'AtLocation'", "'<extra_id_0>'",
         files={**KB, "t.toml": MAPPING_OK + '[phrases.AtLocation]\nconnective = "is in <extra_id_0>"\n'}),
    case("template-literal-soft", f"{TEMPLATE} {{d}}/t.toml", "'<soft_0>'", "{soft:N}",
         files={**KB, "t.toml": 'name = "t"\nobjective = "mapping"\nsource = "<soft_0> {input}"\n'
                                'target = "{target}"\n'}),
    case("template-mismatched-sentinels", f"{TEMPLATE} {{d}}/t.toml", "mismatched sentinels", "the target 0",
         files={**KB, "t.toml": 'name = "t"\nobjective = "filling"\nsource = "{input} {mask}"\ntarget = "{target}"\n'}),
    case("template-input-twice", f"{TEMPLATE} {{d}}/t.toml", "exactly once (found 2)",
         files={**KB, "t.toml": 'name = "t"\nobjective = "mapping"\nsource = "{input} {input}"\ntarget = "{target}"\n'}),
    case("template-mapping-with-mask", f"{TEMPLATE} {{d}}/t.toml", "a mapping template has no sentinels",
         files={**KB, "t.toml": 'name = "t"\nobjective = "mapping"\nsource = "{input} {mask}"\ntarget = "{target}"\n'}),
    case("template-soft-length", f"{TEMPLATE} {{d}}/t.toml", "soft_length must be a whole number from 1",
         files={**KB, "t.toml": MAPPING_OK + "soft_length = 0\n"}),
    case("template-phrase-problems", f"{TEMPLATE} {{d}}/t.toml", "2 problems", "clause for 'AtLocation'",
         "unknown key(s) ['colour']",
         files={**KB, "t.toml": MAPPING_OK + '[phrases.AtLocation]\nclause = "is in"\ncolour = "red"\n'}),
    case("template-unknown-name", f"{TEMPLATE} nope", "unknown template 'nope'", files=KB),
    case("template-file-missing", f"{TEMPLATE} {{d}}/gone.toml", "file not found", "gone.toml", files=KB),
    case("template-not-utf8", f"{TEMPLATE} {{d}}/t.toml", "cannot read", "UTF-8",
         files={**KB, "t.toml": 'name = "caf\xe9"\n'.encode("latin-1")}),
    case("template-is-folder", f"{TEMPLATE} {{d}}/t.toml", "cannot read", "t.toml", files={**KB, "t.toml": folder}),
    case("template-mixed-missing-part", f"{TEMPLATE} {{d}}/t.toml", "'nope' is not in the library",
         files={**KB, "t.toml": 'name = "m"\nobjective = "mixed"\nfilling = "unsup-nat"\nmapping = "nope"\n'}),
    case("train-template-literal", "train --template {d}/t.toml --steps 1 --out {d}/out", "'<extra_id_2>'",
         files={"t.toml": 'name = "t"\nobjective = "filling"\nsource = "{input} {mask}"\n'
                          'target = "<extra_id_2> {target}"\n'}),
    # --- models --------------------------------------------------------------------------------------------------
    case("model-no-tokenizer-render", f"{TEMPLATE} sup --tokenizer {{d}}/m", "holds no tokenizer", "save_pretrained",
         files={**KB, "m": model_files(*WEIGHTS)}),
    case("model-no-tokenizer-analyze", "analyze --model {d}/m --strategy rules --n 1", "holds no tokenizer",
         files={"m": model_files(*WEIGHTS)}),
    case("model-no-tokenizer-train", "train --model {d}/m --steps 1 --out {d}/out", "holds no tokenizer",
         files={"m": model_files(*WEIGHTS, "tokenizer_config.json")}),
    case("model-broken-tokenizer", f"{TEMPLATE} sup --tokenizer {{d}}/m", "cannot load a tokenizer",
         files={**KB, "m": model_files(*WEIGHTS, extra={"tokenizer.json": "{"})}),
    case("model-folder-missing", f"{TEMPLATE} sup --tokenizer {{d}}/gone", "model folder not found", files=KB),
    case("model-is-a-file", f"{TEMPLATE} sup --tokenizer {{d}}/kb.tsv", "is a file, not a model folder", files=KB),
    case("model-no-config", f"{TEMPLATE} sup --tokenizer {{d}}/m", "holds no config.json",
         files={**KB, "m": model_files(*TOKENIZER)}),
    case("model-symlink-loop", f"{TEMPLATE} sup --tokenizer {{d}}/a", "symbolic link loop",
         files={**KB, "a": symlink_to("b"), "b": symlink_to("a")}),
    case("model-config-garbage", "analyze --model {d}/m --strategy rules --n 1", "cannot read the model config",
         files={"m": model_files(*TOKENIZER, extra={"config.json": "{not json"})}),
    case("model-not-seq2seq", "analyze --model {d}/m --strategy rules --n 1", "gpt2", "not an encoder-decoder",
         files={"m": model_files(*TOKENIZER, extra={"config.json": '{"model_type": "gpt2"}'})}),
    case("model-no-weights", "analyze --model {d}/m --strategy rules --n 1", "cannot load the model weights",
         files={"m": model_files("config.json", *TOKENIZER)}),
    case("model-hub-id-offline", f"{TEMPLATE} sup --tokenizer someone/some-model", "network connection", files=KB),
    # --- values --------------------------------------------------------------------------------------------------
    case("lr-nan", "train --lr nan --steps 2 --out {d}/out", "lr = nan is not a finite number", "1e-08 to 10"),
    case("lr-inf", "train --lr inf --steps 2 --out {d}/out", "lr = inf is not a finite number"),
    case("lr-minus-inf", "train --lr=-inf --steps 2 --out {d}/out", "lr = -inf is not a finite number"),
    case("prompt-lr-nan", "train --method prompt --prompt-lr nan --steps 2 --out {d}/out", "prompt_lr = nan"),
    case("lr-zero", "train --lr 0 --steps 2 --out {d}/out", "lr = 0.0 is below 1e-08"),
    case("lr-huge", "train --lr 100 --steps 2 --out {d}/out", "lr = 100.0 is above 10.0"),
    case("seed-negative", "train --seed -1 --steps 2 --out {d}/out", "seed = -1 is below 0"),
    case("seed-2-32", "train --seed 4294967296 --steps 2 --out {d}/out", "seed = 4294967296 is above 4294967295"),
    case("seed-overflow", "train --seed 1180591620717411303424 --steps 2 --out {d}/out", "seed = 1180591620717411303424"),
    case("steps-zero", "train --steps 0 --out {d}/out", "steps = 0 is below 1"),
    case("steps-overflow", "train --steps 1180591620717411303424 --out {d}/out", "steps", "too large"),
    case("batch-zero", "train --batch-size 0 --steps 2 --out {d}/out", "batch_size = 0 is below 1"),
    case("batch-not-divisible", "train --batch-size 10 --grad-accum 3 --steps 2 --out {d}/out", "not divisible"),
    case("grad-norm-inf", "train --set max_grad_norm=Infinity --steps 2 --out {d}/out", "max_grad_norm = inf"),
    case("weight-decay-nan", "train --set weight_decay=NaN --steps 2 --out {d}/out", "weight_decay = nan"),
    case("warmup-negative", "train --set warmup_steps=-1 --steps 2 --out {d}/out", "warmup_steps = -1 is below 0"),
    case("lora-rank-zero", 'train --method lora --set lora={"r":0} --steps 2 --out {d}/out', "lora.r = 0 is below 1"),
    case("lora-dropout-nan", 'train --method lora --set lora={"dropout":NaN} --steps 2 --out {d}/out', "lora.dropout = nan"),
    case("set-unknown", "train --set colour=1 --steps 2 --out {d}/out", "unknown setting 'colour'"),
    case("set-not-a-number", "train --set steps=many --steps 2 --out {d}/out", "steps must be a whole number"),
    case("shots-zero", "train --shots 0 --steps 2 --out {d}/out", "shot count must be at least 1"),
    case("shots-text", "train --shots lots --steps 2 --out {d}/out", "'lots'"),
    case("method-unknown", "train --method sideways --steps 2 --out {d}/out", "unknown method 'sideways'"),
    case("analyze-threshold-nan", "analyze --strategy rules --templates sup --threshold nan", "threshold = nan is not a finite number"),
    case("analyze-seed-negative", "analyze --strategy rules --templates sup --seed -1", "seed = -1 is below 0"),
    case("analyze-seed-2-32", "analyze --strategy rules --templates sup --seed 4294967296", "seed = 4294967296 is above 4294967295"),
    case("analyze-n-zero", "analyze --n 0", "n = 0 is below 1"),
    case("pretrain-seed", f"pretrain --recipe {PILOT} --out {{d}}/out --seed 4294967296", "training.seed"),
    case("pretrain-lr-nan", f"pretrain --recipe {PILOT} --out {{d}}/out --lr nan", "training.lr = nan"),
    case("pretrain-recipe-weight-nan", "pretrain --recipe {d}/r.toml --steps 2 --out {d}/out", "objectives.span = nan",
         files={"r.toml": "[objectives]\nspan = nan\n"}),
    case("pretrain-world-seed", "pretrain --recipe {d}/r.toml --out {d}/out", "world.seed = -1 is out of range",
         files={"r.toml": "[world]\nseed = -1\n"}),
    case("sweep-seed-negative", "sweep --seeds 0,-1 --steps 2 --out {d}/out", "seed -1 is out of range", "4294967295"),
    case("sweep-seed-2-32", "sweep --seeds 0,4294967296 --steps 2 --out {d}/out", "seed 4294967296 is out of range"),
    case("sweep-config-seed", "sweep --config {d}/e.toml --steps 2 --out {d}/out", "seed -2 is out of range",
         files={"e.toml": "seeds = [-2]\n"}),
    case("sweep-seed-count-huge", "sweep --seeds 1180591620717411303424 --out {d}/out", "--seeds"),
    case("sweep-lr-nan", "sweep --set lr=NaN --steps 2 --out {d}/out", "lr = nan is not a finite number"),
    case("render-rows-zero", f"{RENDER} {{d}}/kb.tsv --rows 0", "--rows must be at least 1", files=KB),
    # --- where results go: the CLI must check --out before anything runs ----------------------------------------
    case("out-is-a-file", "train --steps 1 --out {d}/f", "is a file", files={"f": "x"}),
    case("out-under-a-file", "train --steps 1 --out {d}/f/run", "not a folder", files={"f": "x"}),
    case("out-unwritable", "train --steps 1 --out {d}/ro/run", "not writable", files={"ro": read_only_folder},
         skip="root writes anywhere: chmod cannot make a folder unwritable" if os.geteuid() == 0 else None),
    case("sweep-out-is-a-file", "sweep --steps 1 --seeds 1 --shots 8 --templates sup --out {d}/f", "is a file",
         files={"f": "x"}),
    case("analyze-out-under-a-file", "analyze --strategy rules --n 1 --templates sup --out {d}/f/a.json",
         "not a folder", files={"f": "x"}),
    case("sweep-failure-leaves-no-folder", "sweep --data {d}/nope.tsv --out {d}/out", "data file not found"),
]
# fmt: on


def _marks(c: Case) -> list:
    marks = []
    if c.xfail:
        marks.append(pytest.mark.xfail(strict=True, reason=NEEDS_CLI + c.xfail))
    if c.skip:
        marks.append(pytest.mark.skip(reason=c.skip))
    return marks


def _prepare(c: Case, root: Path) -> tuple[Path, list[str]]:
    d = root / c.id
    d.mkdir()
    for name, content in c.files.items():
        path = d / name
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return d, [arg.replace("{d}", str(d)) for arg in c.args]


#: Cases also run as separate `python -m mto_studio` processes, to check that the batch gives what a user sees.
FIDELITY_SAMPLE = ("tsv-ragged-row", "template-all-problems", "seed-overflow", "model-no-tokenizer-render")


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory):
    """Run every selected case; case id → (its folder, {"rc", "stdout", "stderr"})."""
    wanted = {
        item.callspec.params["c"].id
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec") and "c" in item.callspec.params
    }
    wanted |= set(FIDELITY_SAMPLE)
    root = tmp_path_factory.mktemp("bad-inputs")
    prepared = {c.id: _prepare(c, root) for c in CASES if c.id in wanted and not c.skip}
    jobs = [{"id": key, "argv": args, "cwd": str(d)} for key, (d, args) in prepared.items()]
    results = run_batches(jobs, root)
    return {key: (prepared[key][0], results[key]) for key in prepared}


def test_the_table_is_large_and_each_case_unique():
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


def test_the_batch_shows_what_separate_processes_show(outcomes):
    """The batch driver against real `python -m mto_studio` processes, on a sample of every kind of case."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = {key: pool.submit(_real_run, key, outcomes[key][0]) for key in FIDELITY_SAMPLE}
    for key, run in runs.items():
        real, batch = run.result(), outcomes[key][1]
        assert (real.returncode, real.stderr) == (batch["rc"], batch["stderr"]), key


def _real_run(key: str, d: Path):
    (c,) = [c for c in CASES if c.id == key]
    return run_cli(*[arg.replace("{d}", str(d)) for arg in c.args], cwd=d, timeout=180)


@pytest.mark.parametrize("c", [pytest.param(c, id=c.id, marks=_marks(c)) for c in CASES])
def test_bad_input_is_one_clear_line_and_exit_2(c: Case, outcomes):
    d, done = outcomes[c.id]
    shown = f"exit {done['rc']}\nstderr:\n{done['stderr'][-3000:]}\nstdout:\n{done['stdout'][-1000:]}"
    assert "Traceback" not in done["stderr"] + done["stdout"], shown
    assert done["rc"] == 2, shown
    lines = done["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mto-studio: error: "), shown
    for word in c.names:
        assert word in lines[0], f"{word!r} not in: {lines[0]}"
    assert not (d / "out").exists(), f"a failed command left {d / 'out'} behind"


# --- what is accepted: numbers become text, and cells of several types are read as they are written ---------------
def test_numbers_are_converted_and_mixed_json_cells_keep_their_text(tmp_path):
    from mto_studio.core.data import load_task_data

    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(jsonl({"input": "a cup", "target": 3}, {"input": 7, "target": "seven"}), encoding="utf-8")
    data = load_task_data(mixed)
    assert [(e.input, e.target) for e in data.examples] == [("a cup", "3"), ("7", "seven")]  # not '"a cup"'
    table = tmp_path / "numbers.parquet"
    parquet(lambda pa: pa.table({"input": [1, 2], "target": [1.5, 2.0]}))(table)
    assert [(e.input, e.target) for e in load_task_data(table).examples] == [("1", "1.5"), ("2", "2.0")]


def test_a_template_error_lists_each_problem_with_its_place():
    from mto_studio.core.templates import TemplateProblems, parse_template_text

    text = 'name = "t"\ncolour = 1\nobjective = "mapping"\nsource = "{input} <extra_id_0>"\ntarget = "{tgt}"\n'
    with pytest.raises(TemplateProblems) as info:
        parse_template_text(text, source_name="t.toml")
    found = [(p.line, p.field, p.bare_message.split(":")[0]) for p in info.value.problems]
    assert found == [
        (2, "colour", "unknown field 'colour'"),
        (4, "source", "the source holds the sentinel text '<extra_id_0>'"),
        (5, "target", "unknown slot {tgt}"),
    ]
    assert (info.value.line, info.value.field) == (2, "colour")  # an editor marks the first one
