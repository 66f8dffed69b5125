"""Time-ordered splits of trading dates, with embargo gaps: walk-forward folds and the final split.

Labels look up to the longest horizon ahead and the volatility target a
volatility window ahead, so a sample on the last training day already "sees"
the days after it. Dropping `embargo` trading days at every boundary keeps the
future of one part out of the labels of the part before it. Inputs may look
back across a boundary (a window of past evidence is what the scan sees too).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from storm.config import LabelConfig, TrainConfig


@dataclass(frozen=True)
class DateSplit:
    """Sorted trading dates per part; every train date < every validation date < every test date."""

    train: list[str]
    validation: list[str]
    test: list[str]
    embargo_days: int
    name: str = "final"  # "fold1", "fold2", …, or "final" (the model the scan uses: no test part)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "DateSplit":
        return cls(train=list(data["train"]), validation=list(data["validation"]), test=list(data["test"]),
                   embargo_days=int(data["embargo_days"]), name=str(data.get("name", "final")))

    def fingerprint(self) -> str:
        """Short hash of the dates: a stored fold is reused only for exactly the same split."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:16]


def required_embargo(labels: LabelConfig) -> int:
    """The shortest safe gap: the longest label horizon or the forward-volatility window, whichever is longer."""
    return max(max(labels.horizons), labels.volatility_window)


def embargo_for(train: TrainConfig, labels: LabelConfig) -> int:
    """train.embargo_days, validated against the label horizons; None means the required minimum."""
    needed = required_embargo(labels)
    if train.embargo_days is None:
        return needed
    if train.embargo_days < needed:
        raise ValueError(
            f"train.embargo_days={train.embargo_days} is shorter than the labels look ahead ({needed} trading days: "
            f"horizons {labels.horizons}, volatility window {labels.volatility_window}); training labels would see "
            f"validation and test days. Set train.embargo_days ≥ {needed} or leave it unset")
    return train.embargo_days


def carve_validation(before: list[str], validation_fraction: float, embargo: int, what: str) -> tuple[list[str], list[str]]:
    """(train, validation) from dates in time order: validation is the last fraction, after an embargo gap."""
    usable = len(before) - embargo
    n_validation = round(usable * validation_fraction)
    n_train = usable - n_validation
    if n_validation < 1 or n_train < 1:
        raise ValueError(f"{what}: {len(before)} trading dates are too few for a validation block of "
                         f"{validation_fraction:.0%} after an embargo of {embargo} days; use a longer history")
    return before[:n_train], before[n_train + embargo:]


def walk_forward_folds(dates: list[str], train: TrainConfig, labels: LabelConfig, n_folds: int | None = None) -> list[DateSplit]:
    """Expanding-window folds: disjoint consecutive test blocks covering the history after a warm-up.

    Fold k tests on block k and trains on everything up to `embargo` days before it, with its
    validation block carved from the end of that training part (another embargo in between).
    """
    ordered = sorted(set(dates))
    n_folds = n_folds or train.folds
    embargo = embargo_for(train, labels)
    first_test = int(len(ordered) * train.warmup_fraction)
    block = (len(ordered) - first_test) // n_folds
    if block < 1:
        raise ValueError(f"cannot cut {len(ordered)} trading dates into {n_folds} walk-forward test blocks after a "
                         f"warm-up of {train.warmup_fraction:.0%}; use fewer folds (--folds) or a longer history")
    folds = []
    for fold in range(n_folds):
        test_start = first_test + fold * block
        test_end = len(ordered) if fold == n_folds - 1 else test_start + block
        name = f"fold{fold + 1}"
        fitted, validation = carve_validation(ordered[:max(test_start - embargo, 0)], train.validation_fraction, embargo,
                                              f"walk-forward {name}")
        folds.append(DateSplit(train=fitted, validation=validation, test=ordered[test_start:test_end],
                               embargo_days=embargo, name=name))
    return folds


def final_split(dates: list[str], train: TrainConfig, labels: LabelConfig) -> DateSplit:
    """The model the scan uses: every labelled date, its last validation block kept for early stopping and calibration."""
    ordered = sorted(set(dates))
    embargo = embargo_for(train, labels)
    fitted, validation = carve_validation(ordered, train.validation_fraction, embargo, "final model")
    return DateSplit(train=fitted, validation=validation, test=[], embargo_days=embargo, name="final")
