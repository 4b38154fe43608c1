"""The Data workbench: the project's rows, column mapping, splits, heads and relations."""

from mto_studio.gui.workbenches.data.view import DataWorkbench

__all__ = ["DataWorkbench"]
