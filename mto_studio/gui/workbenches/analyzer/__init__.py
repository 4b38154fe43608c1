"""The Analyzer: which objective each relation matches, and how templates rank zero-shot."""

from mto_studio.gui.workbenches.analyzer.view import AnalyzerWorkbench

__all__ = ["AnalyzerWorkbench"]
