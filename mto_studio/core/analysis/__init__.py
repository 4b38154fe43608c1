"""Zero-shot analysis: objective decisions per relation, template ranking, and the prediction check."""
