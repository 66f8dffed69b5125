"""The published model: what a trained run leaves for the scan, the evaluation and the desk to score with.

``artifacts``: immutable versions under models/<run>/ and the pointer to the current one. ``weights``: weights to
and from safetensors bytes. ``calibration`` (and its ``calibration_prior``): raw logits to probabilities and alerts.
``inference``: model inputs, autocast, raw outputs. ``predictor``: a published version, ready to score a batch.
No Ray and no training here: scoring a stored model needs neither.
"""
