"""Load any HF encoder-decoder and its tokenizer from a folder, a hub id (from the local cache when offline) or the
embedded model, with clear errors."""

from __future__ import annotations

import os
from pathlib import Path

from mto_studio.core.errors import ConfigError, ModelError
from mto_studio.core.fsio import unreachable_path
from mto_studio.core.resources import resource
from mto_studio.core.runtime import is_offline

EMBEDDED_MODEL = "mto-tiny"
#: Files that hold a tokenizer's vocabulary (fast tokenizers, SentencePiece, BPE, WordPiece). A folder with none of
#: them would get a tokenizer built from nothing: transformers then makes one of special tokens only.
TOKENIZER_FILES = ("tokenizer.json", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model", "vocab.json",
                   "vocab.txt", "source.spm")  # fmt: skip
#: Fewer ordinary (non-special) tokens than this: not a real vocabulary.
MIN_VOCAB = 16


def embedded_model_dir() -> Path:
    return resource("models", EMBEDDED_MODEL)


def resolve_model_ref(ref: str | os.PathLike | None) -> str:
    """A model reference → what transformers loads: None or 'mto-tiny' → the embedded model folder; a path → that
    folder ("model folder not found" when it is missing); a hub id → its snapshot folder in the local Hugging Face
    cache when offline (ModelError when not cached), the id itself when online."""
    if ref is None or str(ref) in ("", EMBEDDED_MODEL, "embedded"):
        folder = embedded_model_dir()
        if not (folder / "config.json").is_file():
            raise ModelError(
                f"the embedded model is missing from {folder}",
                f"re-create it: mto-studio pretrain --recipe resources/recipes/mto-tiny.toml --out {folder}",
            )
        return str(folder)
    path = Path(str(ref)).expanduser()
    if not path.exists():
        _check_link(path)
    if path.exists():
        if not path.is_dir():
            raise ModelError(f"{path} is a file, not a model folder", "pick the folder that holds config.json")
        if not (path / "config.json").is_file():
            raise ModelError(f"{path} holds no config.json", "pick a folder saved with save_pretrained()")
        return str(path)
    text = str(ref)
    if _looks_like_path(text):
        raise ModelError(
            f"model folder not found: {text}",
            f"check the path (a relative one is taken from {Path.cwd()}), or use the embedded model (mto-tiny)",
        )
    from mto_studio.core.models.cache import cached_snapshot, hub_cache_dir

    if not is_offline():
        return text  # the hub (and its cache) through transformers
    snapshot = cached_snapshot(text)
    if snapshot is not None:
        return str(snapshot)
    # offline and not cached: the text may as well be a mistyped folder (``models/t5-smal`` with no ``models/``)
    raise ModelError(
        f"'{text}' is not in the local Hugging Face cache ({hub_cache_dir()}) and is not a folder here "
        f"({Path.cwd()}); MTO Studio is offline",
        f"if it is a folder, check the path; if it is a hub id, download it once with a network connection (run "
        f"with MTO_ONLINE=1, or `hf download {text}`); or use mto-tiny",
    )


def _looks_like_path(text: str) -> bool:
    """A reference that names a folder rather than a hub id: it starts with '.', '/' or '~', is absolute, has more
    than one '/', a '\\' on Windows, or its first part is a local folder (``models/t5-smal``)."""
    if text.startswith((".", "/", "~")) or Path(text).is_absolute() or text.count("/") > 1:
        return True
    if os.sep == "\\" and "\\" in text:
        return True
    head, slash, _ = text.partition("/")
    return bool(slash) and Path(head).expanduser().is_dir()


def _check_link(path: Path) -> None:
    problem = unreachable_path(path, "the model folder")
    if problem is not None:
        raise ModelError(*problem)


def require_tokenizer_files(where: str) -> None:
    """ModelError with the fix when a local model folder holds no tokenizer (hub ids are left to the hub)."""
    folder = Path(where)
    if not folder.is_dir() or any((folder / name).is_file() for name in TOKENIZER_FILES):
        return
    raise ModelError(
        f"{folder} holds no tokenizer (none of {', '.join(TOKENIZER_FILES[:3])}, …)",
        "save the tokenizer beside the weights (tokenizer.save_pretrained(FOLDER)) or copy its files from the "
        "model this one was trained from",
    )


def load_tokenizer(ref: str | os.PathLike | None):
    where = resolve_model_ref(ref)
    require_tokenizer_files(where)
    from transformers import AutoTokenizer  # after the checks: a bad path is reported without the import's seconds

    try:
        tokenizer = AutoTokenizer.from_pretrained(where)
    except Exception as exc:  # HF raises OSError/ValueError/… for every kind of bad folder
        raise ModelError(
            f"cannot load a tokenizer from {where}: {str(exc).splitlines()[0][:200]}",
            "pick a model folder that holds tokenizer files (tokenizer.json or spiece.model)",
        ) from exc
    special = set(getattr(tokenizer, "all_special_tokens", []) or [])
    special |= set(getattr(tokenizer, "get_added_vocab", dict)() or {})
    ordinary = sum(1 for token in tokenizer.get_vocab() if token not in special)
    if ordinary < MIN_VOCAB:
        raise ModelError(
            f"the tokenizer in {where} has only {ordinary} ordinary tokens (its files hold no real vocabulary)",
            "save the model's own tokenizer in the folder (tokenizer.save_pretrained(FOLDER))",
        )
    return tokenizer


def load_seq2seq(ref: str | os.PathLike | None, *, dtype=None):
    """Load (model, tokenizer). Raises ModelError if the model is not an encoder-decoder."""
    where = resolve_model_ref(ref)
    require_tokenizer_files(where)
    from transformers import AutoConfig, AutoModelForSeq2SeqLM

    try:
        config = AutoConfig.from_pretrained(where)
    except Exception as exc:
        raise ModelError(
            f"cannot read the model config in {where}: {str(exc).splitlines()[0][:200]}",
            "pick a folder saved with save_pretrained()",
        ) from exc
    if not getattr(config, "is_encoder_decoder", False):
        raise ModelError(
            f"{where} holds a {config.model_type} model, which is not an encoder-decoder",
            "MTO Studio trains encoder-decoders: T5, Flan-T5, mT5, BART",
        )
    try:
        model = (
            AutoModelForSeq2SeqLM.from_pretrained(where, dtype=dtype)
            if dtype
            else AutoModelForSeq2SeqLM.from_pretrained(where)
        )
    except Exception as exc:
        raise ModelError(
            f"cannot load the model weights in {where}: {str(exc).splitlines()[0][:200]}",
            "check that the folder holds model.safetensors or pytorch_model.bin",
        ) from exc
    return model, load_tokenizer(where)


#: The devices a config may name (``cuda:N`` picks one GPU); forms offer these, validation accepts them.
DEVICES = ("auto", "cpu", "cuda", "mps")
DEVICE_HELP = "auto (CUDA or MPS when present, else the CPU), cpu, cuda, cuda:N or mps"


def pick_device(choice: str = "auto") -> str:
    import torch

    if choice not in DEVICES and not choice.startswith("cuda:"):
        raise ConfigError(f"unknown device '{choice}'", "use auto, cpu, cuda or mps")
    if choice == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available", "use device auto or cpu")
    if choice == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("device 'mps' was asked for but Metal is not available", "use device auto or cpu")
    return choice
