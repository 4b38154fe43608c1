"""Pre-training a small T5 with a chosen objective mix (the Objective Lab): recipe, corpus and loop."""
