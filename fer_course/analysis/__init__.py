"""What the chapters compute from runs, one module per topic: the data's flaws (chapter 1),
votes and their reports (chapter 3), significance tests and ablations, pooling indices
(chapter 4), label noise (chapter 6's FER+ comparison)."""
