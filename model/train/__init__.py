"""The trainer (numpy; matplotlib for the model card): data, SGD, conformal intervals, evaluation, the
training pipeline and its report. ``python -m model.train`` is ``diabetes-progression train``."""
