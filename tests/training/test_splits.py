import pytest

from storm.config import TrainConfig
from storm.training.splits import walk_forward_folds, walk_forward_split
from training_samples import trading_dates

DATES = trading_dates(200)


def test_parts_are_in_time_order_and_do_not_overlap():
    split = walk_forward_split(list(reversed(DATES)), TrainConfig(embargo_days=3), [5, 10, 20])
    assert split.train == sorted(split.train) and split.validation == sorted(split.validation)
    assert max(split.train) < min(split.validation) and max(split.validation) < min(split.test)
    assert not (set(split.train) & set(split.validation) | set(split.validation) & set(split.test))


def test_embargo_defaults_to_longest_horizon_and_drops_that_many_days_at_each_boundary():
    split = walk_forward_split(DATES, TrainConfig(), [5, 10, 20])
    assert split.embargo_days == 20
    position = {date: i for i, date in enumerate(DATES)}
    assert position[split.validation[0]] - position[split.train[-1]] - 1 == 20
    assert position[split.test[0]] - position[split.validation[-1]] - 1 == 20
    assert len(split.train) + len(split.validation) + len(split.test) + 40 == len(DATES)


def test_fractions_apply_to_dates_left_after_embargo():
    split = walk_forward_split(DATES, TrainConfig(embargo_days=0, validation_fraction=0.2, test_fraction=0.25), [5])
    assert (len(split.train), len(split.validation), len(split.test)) == (110, 40, 50)


def test_too_few_dates_is_an_error_that_says_what_to_change():
    with pytest.raises(ValueError, match="embargo"):
        walk_forward_split(DATES[:30], TrainConfig(), [5, 10, 20])


def test_split_roundtrips_through_json():
    split = walk_forward_split(DATES, TrainConfig(embargo_days=2), [5])
    assert type(split).from_json(split.to_json()) == split


def test_walk_forward_folds_expand_and_keep_the_embargo_before_each_test_block():
    folds = walk_forward_folds(DATES, n_folds=3, embargo_days=10)
    position = {date: i for i, date in enumerate(DATES)}
    assert len(folds) == 3
    assert [len(f.train) for f in folds] == sorted(len(f.train) for f in folds)
    for fold in folds:
        assert position[fold.test[0]] - position[fold.train[-1]] - 1 == 10
    tested = [d for f in folds for d in f.test]
    assert len(tested) == len(set(tested)) and tested[-1] == DATES[-1]
