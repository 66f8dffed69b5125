import pytest

from storm.config import LabelConfig, TrainConfig
from storm.splits import DateSplit, final_split, required_embargo, walk_forward_folds
from training_samples import trading_dates

DATES = trading_dates(400)
LABELS = LabelConfig(horizons=[5, 10, 20], volatility_window=20)
POSITION = {date: i for i, date in enumerate(DATES)}


def gap(before: list[str], after: list[str]) -> int:
    return POSITION[after[0]] - POSITION[before[-1]] - 1


def test_folds_expand_and_every_boundary_keeps_the_embargo():
    folds = walk_forward_folds(list(reversed(DATES)), TrainConfig(folds=3), LABELS)
    assert [f.name for f in folds] == ["fold1", "fold2", "fold3"]
    assert [len(f.train) for f in folds] == sorted(len(f.train) for f in folds)
    for fold in folds:
        assert fold.embargo_days == 20
        assert fold.train == sorted(fold.train) and fold.validation == sorted(fold.validation)
        assert gap(fold.train, fold.validation) == 20 and gap(fold.validation, fold.test) == 20
        assert max(fold.train) < min(fold.validation) < min(fold.test)


def test_test_blocks_are_disjoint_and_cover_the_history_after_the_warm_up():
    folds = walk_forward_folds(DATES, TrainConfig(folds=4, warmup_fraction=0.4), LABELS)
    tested = [d for f in folds for d in f.test]
    assert len(tested) == len(set(tested)) and tested == DATES[160:]


def test_embargo_follows_the_volatility_window_when_it_is_longer_than_the_horizons():
    labels = LabelConfig(horizons=[5, 10], volatility_window=30)
    assert required_embargo(labels) == 30
    fold = walk_forward_folds(DATES, TrainConfig(folds=2), labels)[0]
    assert gap(fold.train, fold.validation) == 30 and gap(fold.validation, fold.test) == 30


def test_an_embargo_shorter_than_the_labels_look_ahead_is_an_error_naming_the_minimum():
    with pytest.raises(ValueError, match="embargo_days ≥ 20"):
        walk_forward_folds(DATES, TrainConfig(embargo_days=5), LABELS)


def test_too_few_dates_is_an_error_that_says_what_to_change():
    with pytest.raises(ValueError, match="longer history|fewer folds"):
        walk_forward_folds(DATES[:60], TrainConfig(folds=3), LABELS)


def test_final_split_trains_on_everything_but_its_last_validation_block():
    split = final_split(DATES, TrainConfig(validation_fraction=0.2), LABELS)
    assert split.test == [] and split.name == "final"
    assert split.validation[-1] == DATES[-1] and gap(split.train, split.validation) == 20
    assert len(split.train) + len(split.validation) + 20 == len(DATES)


def test_split_roundtrips_through_json_and_its_fingerprint_follows_the_dates():
    folds = walk_forward_folds(DATES, TrainConfig(folds=3), LABELS)
    assert DateSplit.from_json(folds[0].to_json()) == folds[0]
    assert len({f.fingerprint() for f in folds}) == 3
    assert folds[0].fingerprint() == walk_forward_folds(DATES, TrainConfig(folds=3), LABELS)[0].fingerprint()
