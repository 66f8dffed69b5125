"""Which epoch is kept: the best mean validation AUROC, or the lowest loss where no AUROC is defined."""

import math

from storm.training.worker import selection_score


def test_a_validation_block_without_storms_keeps_the_lowest_loss_epoch_not_the_initial_weights():
    nan = float("nan")
    epochs = [selection_score("auroc", loss, [nan, nan, nan]) for loss in (0.9, 0.4, 0.6)]
    assert all(math.isfinite(score) for score in epochs)
    assert min(range(3), key=epochs.__getitem__) == 1


def test_defined_aurocs_rank_epochs_by_their_mean():
    assert selection_score("auroc", 0.1, [0.6, float("nan"), 0.8]) == -0.7
    assert selection_score("auroc", 0.1, [0.9, 0.9, 0.9]) < selection_score("auroc", 0.01, [0.6, 0.6, 0.6])
