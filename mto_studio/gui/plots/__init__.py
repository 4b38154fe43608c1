"""pyqtgraph charts: plot items are created once and updated with new data."""
