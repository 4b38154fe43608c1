"""Training: events, the fine-tuning/prompt-tuning/LoRA loop, checkpoints, experiments."""
