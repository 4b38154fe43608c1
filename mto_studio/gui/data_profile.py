"""What the project's data says about its model, computed on the GUI thread and kept until the model, the data or
the tokenizer changes: the domain check (core/models/domain.py) and the mean tokens per example (for the Trainer's
time estimate). One owner, read through the shared context by the Data and Trainer workbenches."""

from __future__ import annotations

from typing import Any

#: texts the domain check reads (inputs and targets; about 20-60 ms with a fast tokenizer)
DOMAIN_SAMPLE = 600


class DataProfile:
    def __init__(self) -> None:
        self._key: tuple[Any, Any, Any] = (None, None, None)
        self.report: Any = None  # the DomainReport
        self.example_tokens: float | None = None

    def of(self, model: str, task: Any, tokenizer: Any) -> DataProfile:
        """Recomputed when ``model`` differs or ``task`` / ``tokenizer`` are other objects than last time."""
        cached_model, cached_task, cached_tokenizer = self._key
        if cached_model != model or cached_task is not task or cached_tokenizer is not tokenizer:
            from mto_studio.core.models.domain import domain_report, task_texts
            from mto_studio.core.models.family import family_of_ref
            from mto_studio.core.training.estimate import data_example_tokens

            self.report = domain_report(tokenizer, task_texts(task.examples, DOMAIN_SAMPLE), family_of_ref(model))
            self.example_tokens = data_example_tokens(tokenizer, task.examples)
            self._key = (model, task, tokenizer)
        return self
