"""Time-ordered splits of trading dates, with embargo gaps.

Labels look up to the longest horizon ahead, so a sample on the last training
day already "sees" validation days. A random split leaks; a plain time split
leaks across its edges. Dropping `embargo` trading days at each boundary
keeps the future of one part out of the labels of the part before it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from storm.config import TrainConfig


@dataclass(frozen=True)
class DateSplit:
    """Sorted trading dates per part; every train date < every validation date < every test date."""

    train: list[str]
    validation: list[str]
    test: list[str]
    embargo_days: int

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "DateSplit":
        return cls(train=list(data["train"]), validation=list(data["validation"]), test=list(data["test"]),
                   embargo_days=int(data["embargo_days"]))


def embargo_for(train: TrainConfig, horizons: list[int]) -> int:
    """train.embargo_days, or by default the longest label horizon (the widest label overlap)."""
    return train.embargo_days if train.embargo_days is not None else max(horizons)


def walk_forward_split(dates: list[str], train: TrainConfig, horizons: list[int]) -> DateSplit:
    """Train, then validation, then test, in time order, with `embargo` dates dropped between parts.

    The fractions apply to the dates left after the two embargo gaps.
    """
    ordered = sorted(set(dates))
    embargo = embargo_for(train, horizons)
    usable = len(ordered) - 2 * embargo
    n_test = round(usable * train.test_fraction)
    n_validation = round(usable * train.validation_fraction)
    n_train = usable - n_test - n_validation
    if min(n_train, n_validation, n_test) < 1:
        raise ValueError(
            f"{len(ordered)} trading dates are too few to split into train/validation/test with "
            f"validation_fraction={train.validation_fraction}, test_fraction={train.test_fraction} and an "
            f"embargo of {embargo} days on each side; use a longer date range or set train.embargo_days lower"
        )
    validation_start = n_train + embargo
    test_start = validation_start + n_validation + embargo
    return DateSplit(
        train=ordered[:n_train],
        validation=ordered[validation_start:validation_start + n_validation],
        test=ordered[test_start:],
        embargo_days=embargo,
    )


def walk_forward_folds(dates: list[str], n_folds: int, embargo_days: int, min_train_fraction: float = 0.4) -> list[DateSplit]:
    """Expanding-window folds for replay evaluation: each fold trains on everything before it.

    The first `min_train_fraction` of the dates is only ever training; the rest is cut into
    `n_folds` consecutive test blocks. Fold k trains on all dates up to `embargo_days` before
    its block. Validation is empty here: callers carve it from the fold's train part.
    """
    ordered = sorted(set(dates))
    first_test = int(len(ordered) * min_train_fraction)
    block = (len(ordered) - first_test) // n_folds if n_folds > 0 else 0
    if n_folds < 1 or block < 1 or first_test - embargo_days < 1:
        raise ValueError(
            f"cannot cut {len(ordered)} trading dates into {n_folds} walk-forward folds with an embargo of "
            f"{embargo_days} days; use fewer folds or a longer date range"
        )
    folds = []
    for fold in range(n_folds):
        test_start = first_test + fold * block
        test_end = len(ordered) if fold == n_folds - 1 else test_start + block
        folds.append(DateSplit(train=ordered[:test_start - embargo_days], validation=[],
                               test=ordered[test_start:test_end], embargo_days=embargo_days))
    return folds
