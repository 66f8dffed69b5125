"""The boosted candidate: what a quant already runs on price features, the bar storm's models must clear.

One LightGBM binary classifier per horizon on QUANT_FEATURES (NaN is missing, LightGBM routes it), held to
QUANT_MONOTONE's signs, fitted on the training dates' labels only; the validation dates' labels decide when
to stop adding trees (validation log loss) and nothing else. Pure: tables in, log-odds out, no Ray, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd

from storm.features.price_history import QUANT_FEATURES, QUANT_MONOTONE
from storm.schema import storm_column


@dataclass(frozen=True)
class BoostedSettings:
    """Conservative defaults for rare events on two cores: small trees, slow learning, large leaves."""

    num_leaves: int = 15
    learning_rate: float = 0.05
    min_child_samples: int = 50
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 1.0
    n_estimators: int = 500
    early_stopping_rounds: int = 50
    # a validation block without a storm cannot say when to stop (its log loss only rewards lower hazards): then this
    # many rounds, a fixed budget at the learning rate above, rather than no trees at all
    calm_validation_rounds: int = 100
    # 1: on a loaded 2-core machine LightGBM's two OpenMP threads waited on each other (fit 190 s vs 24.3 s with one
    # thread on 700 markets x 1000 days, the same trees); raise it on an idle many-core machine
    threads: int = 1
    seed: int = 0


@dataclass
class BoostedModel:
    """Per horizon a LightGBM booster, or None and a constant log-odds where one class left nothing to learn."""

    features: tuple[str, ...]
    horizons: tuple[int, ...]
    boosters: dict[int, lgb.Booster | None]
    constant_logits: dict[int, float] = field(default_factory=dict)
    iterations: dict[int, int] = field(default_factory=dict)  # trees kept (the early-stopping best iteration)
    notes: dict[int, str] = field(default_factory=dict)
    threads: int = 2  # for predicting, as for fitting: an unbounded OpenMP pool stalls on a shared machine

    def logits(self, features: pd.DataFrame) -> np.ndarray:
        """Raw log-odds [rows of ``features``, horizons], in the table's row order."""
        x = _design(features, self.features)
        out = np.empty((len(x), len(self.horizons)))
        for column, h in enumerate(self.horizons):
            booster = self.boosters[h]
            if booster is None:
                out[:, column] = self.constant_logits[h]
            else:
                out[:, column] = booster.predict(x, raw_score=True, num_threads=self.threads)
        return out

    def to_json(self) -> dict:
        return {"features": list(self.features), "horizons": list(self.horizons),
                "models": {str(h): None if b is None else b.model_to_string() for h, b in self.boosters.items()},
                "constant_logits": {str(h): v for h, v in self.constant_logits.items()},
                "iterations": {str(h): v for h, v in self.iterations.items()},
                "notes": {str(h): v for h, v in self.notes.items()}, "threads": self.threads}

    @classmethod
    def from_json(cls, data: dict) -> "BoostedModel":
        horizons = tuple(int(h) for h in data["horizons"])
        models = data["models"]
        return cls(features=tuple(data["features"]), horizons=horizons,
                   boosters={h: None if models[str(h)] is None else lgb.Booster(model_str=models[str(h)])
                             for h in horizons},
                   constant_logits={int(h): float(v) for h, v in data["constant_logits"].items()},
                   iterations={int(h): int(v) for h, v in data["iterations"].items()},
                   notes={int(h): str(v) for h, v in data["notes"].items()}, threads=int(data.get("threads", 2)))


def fit_boosted(features: pd.DataFrame, labels: pd.DataFrame, train_dates, validation_dates, horizons,
                settings: BoostedSettings, read: tuple[str, ...] = QUANT_FEATURES) -> BoostedModel:
    """One classifier per horizon on the training dates' rows, stopped early on the validation dates' log loss.

    ``features``: market, date and the columns ``read`` (QUANT_FEATURES from quant_price_features, and for the
    evaluated news-reading variant the evidence activity and text measures, unconstrained); ``labels``: market,
    date, storm_{h}d (NaN: future unknown, row unused). A horizon whose training rows hold one class only gets no
    trees: a constant log-odds at the training base rate (shrunk by half a storm, so finite). One whose validation
    rows hold no storm trains a fixed ``calm_validation_rounds`` trees without early stopping.
    """
    read = tuple(read)
    _design(features.head(0), read)  # a table without the columns is refused before any work
    joined = features[["market", "date", *read]].merge(
        labels[["market", "date", *(storm_column(h) for h in horizons)]], on=["market", "date"], how="inner")
    x = _design(joined, read)
    dates = joined["date"].astype(str)
    train, validation = dates.isin(set(map(str, train_dates))).to_numpy(), dates.isin(set(map(str, validation_dates))).to_numpy()
    model = BoostedModel(features=read, horizons=tuple(horizons), boosters={}, threads=settings.threads)
    for h in horizons:
        y = joined[storm_column(h)].to_numpy(np.float64)
        known = ~np.isnan(y)
        fit_rows, stop_rows = train & known, validation & known
        storms, rows = float(y[fit_rows].sum()), int(fit_rows.sum())
        model.constant_logits[h] = math.log((storms + 0.5) / (rows - storms + 0.5))
        if len(np.unique(y[fit_rows])) < 2:
            model.boosters[h], model.iterations[h] = None, 0
            model.notes[h] = (f"training rows hold one class only ({storms:.0f} storms in {rows} rows): constant "
                              "log-odds at the training base rate, no trees")
            continue
        stops = len(np.unique(y[stop_rows])) == 2
        if not stops:
            model.notes[h] = (f"validation rows hold no storm and cannot stop training: "
                              f"{settings.calm_validation_rounds} trees")
        booster = _fit_one(x[fit_rows], y[fit_rows], x[stop_rows], y[stop_rows], settings, stops, read)
        model.boosters[h], model.iterations[h] = booster, booster.current_iteration()
    return model


def _fit_one(x_train, y_train, x_validation, y_validation, settings: BoostedSettings,
             early_stopping: bool = True, read: tuple[str, ...] = QUANT_FEATURES) -> lgb.Booster:
    """Train with early stopping (else a fixed calm_validation_rounds), then keep only the best iteration's trees
    (what to_json stores)."""
    monotone = [QUANT_MONOTONE.get(name, 0) for name in read]
    params = {
        "objective": "binary", "metric": "binary_logloss", "num_leaves": settings.num_leaves,
        "learning_rate": settings.learning_rate, "min_data_in_leaf": settings.min_child_samples,
        "feature_fraction": settings.feature_fraction, "bagging_fraction": settings.bagging_fraction,
        "bagging_freq": settings.bagging_freq, "lambda_l2": settings.lambda_l2, "monotone_constraints": monotone,
        "num_threads": settings.threads, "seed": settings.seed, "deterministic": True, "force_row_wise": True,
        "verbose": -1,
    }
    train_set = lgb.Dataset(x_train, y_train, feature_name=list(read), free_raw_data=True)
    if not early_stopping:
        booster = lgb.train(params, train_set, num_boost_round=settings.calm_validation_rounds)
        return lgb.Booster(model_str=booster.model_to_string())
    stop_set = lgb.Dataset(x_validation, y_validation, reference=train_set)  # binned as training was
    booster = lgb.train(params, train_set, num_boost_round=settings.n_estimators, valid_sets=[stop_set],
                        callbacks=[lgb.early_stopping(settings.early_stopping_rounds, verbose=False)])
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))


def _design(table: pd.DataFrame, columns) -> np.ndarray:
    missing = [name for name in columns if name not in table.columns]
    if missing:
        raise ValueError(f"the boosted model reads {', '.join(missing)}, absent from the features table; "
                         "build it with storm.features.price_history.quant_price_features")
    return table[list(columns)].to_numpy(np.float64)
