"""The workbenches and their widgets."""
