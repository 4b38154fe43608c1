"""Batched greedy decoding of rendered sources, length-sorted so padding stays small."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from mto_studio.core.metrics.text import extract_answer


def pad_batch(
    sequences: Sequence[Sequence[int]], pad_id: int, *, label_pad: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists into a tensor and its attention mask (``label_pad`` replaces pad in the tensor)."""
    width = max(len(s) for s in sequences)
    fill = pad_id if label_pad is None else label_pad
    ids = torch.full((len(sequences), width), fill, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask


@torch.no_grad()
def generate_ids(
    model,
    batches_of_ids: Sequence[Sequence[int]],
    *,
    pad_id: int,
    batch_size: int = 32,
    max_new_tokens: int = 24,
    device: str | torch.device = "cpu",
    encode_inputs: Callable | None = None,
) -> list[list[int]]:
    """Greedy-decode each id list; ``encode_inputs(ids, mask, indices)`` may return ``inputs_embeds`` (prompt
    tuning; ``indices`` are the positions of the batch's rows in ``batches_of_ids``)."""
    order = sorted(range(len(batches_of_ids)), key=lambda i: len(batches_of_ids[i]))
    outputs: list[list[int]] = [[] for _ in batches_of_ids]
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            ids, mask = pad_batch([batches_of_ids[i] for i in chunk], pad_id)
            ids, mask = ids.to(device), mask.to(device)
            kwargs = {"attention_mask": mask, "max_new_tokens": max_new_tokens, "do_sample": False, "num_beams": 1}
            if encode_inputs is not None:
                kwargs["inputs_embeds"] = encode_inputs(ids, mask, chunk)
            else:
                kwargs["input_ids"] = ids
            generated = model.generate(**kwargs)
            for row, index in enumerate(chunk):
                outputs[index] = generated[row].tolist()
    finally:
        model.train(was_training)
    return outputs


def decode_answers(
    tokenizer, generated: Sequence[Sequence[int]], frames: Sequence[tuple[str, str] | None] | None = None
) -> list[str]:
    """The answers in generated ids. ``frames`` (one per row, Rendered.frame) take the answer out of a rebuilt
    full text (a denoising family's Filling); None rows and ``frames=None`` extract as for T5."""
    texts = tokenizer.batch_decode(generated, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    if frames is None:
        return [extract_answer(t) for t in texts]
    return [extract_answer(t, frame) for t, frame in zip(texts, frames, strict=True)]


def generate_answers(
    model,
    tokenizer,
    sources: Sequence[str],
    *,
    batch_size: int = 32,
    max_new_tokens: int = 24,
    device: str | torch.device = "cpu",
    frames: Sequence[tuple[str, str] | None] | None = None,
) -> list[str]:
    ids = [tokenizer(s)["input_ids"] for s in sources]
    generated = generate_ids(
        model, ids, pad_id=tokenizer.pad_token_id, batch_size=batch_size, max_new_tokens=max_new_tokens, device=device
    )
    return decode_answers(tokenizer, generated, frames)
