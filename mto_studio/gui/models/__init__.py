"""Qt item models over core objects (tables of rows, counts, templates, phrases)."""
