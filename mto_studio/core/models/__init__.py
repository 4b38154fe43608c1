"""Models: loading any HF encoder-decoder, the embedded mto-tiny, and the Objective Lab (pre-training)."""
