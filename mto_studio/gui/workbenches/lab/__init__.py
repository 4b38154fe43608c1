"""The Objective Lab: pre-train a small T5 on a chosen objective mix and watch what it learns."""

from mto_studio.gui.workbenches.lab.view import ObjectiveLabWorkbench

__all__ = ["ObjectiveLabWorkbench"]
