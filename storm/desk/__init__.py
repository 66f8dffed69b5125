"""The published score's members besides storm's neural model — the models a risk desk already runs (trailing
volatility, GARCH(1,1), a price logistic, boosted trees) — and the stack that combines them with it.

Artifacts and scoring live here, below both the evaluation (which fits and judges them) and the scan (which
scores them each night): JSON in, numbers out, no Ray, no object store.
"""
