"""MTO Studio: match tasks to the pre-training objectives of encoder-decoder models."""

__version__ = "0.1.0"
