"""Deciding which pre-training objective (Filling or Mapping) each relation matches."""
