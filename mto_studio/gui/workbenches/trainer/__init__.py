"""The Trainer: the experiment grid's settings, its live curves, runs, results and samples."""

from mto_studio.gui.workbenches.trainer.view import TrainerWorkbench

__all__ = ["TrainerWorkbench"]
