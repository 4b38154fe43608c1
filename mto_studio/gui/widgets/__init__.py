"""Reusable widgets shared by the workbenches."""
