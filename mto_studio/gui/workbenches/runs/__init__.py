"""The Runs workbench: every experiment and run of the project; compare, export, reproduce."""

from mto_studio.gui.workbenches.runs.view import RunsWorkbench

__all__ = ["RunsWorkbench"]
