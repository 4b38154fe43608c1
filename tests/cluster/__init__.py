"""Tests of the Ray backend (marker `distributed`, except the one that runs without Ray)."""
