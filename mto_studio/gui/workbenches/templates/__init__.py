"""The Templates workbench: slot-block designer, phrase tables, live preview on real rows, diff."""

from mto_studio.gui.workbenches.templates.designer import TemplateDesigner

__all__ = ["TemplateDesigner"]
