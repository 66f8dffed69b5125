"""Training: time splits, the multi-task loss, the plain-PyTorch loop, the Ray trainer, calibration, the predictor.

The Ray trainer (`train`, `TrainResult`) is imported on first use, so the plain-PyTorch
loop and the predictor import without Ray (a GPU machine for the AMP check has none).
"""

from storm.training.calibration import Calibration, fit_calibration, threshold_for_false_alarm_rate
from storm.training.predictor import Predictor, load_predictor
from storm.training.splits import DateSplit, final_split, walk_forward_folds

__all__ = [
    "Calibration", "DateSplit", "Predictor", "TrainResult", "fit_calibration", "load_predictor", "threshold_for_false_alarm_rate",
    "TrainingRequest", "train", "train_models", "walk_forward_folds", "final_split",
]

_RAY_TRAINER = ("TrainResult", "TrainingRequest", "train", "train_models")


def __getattr__(name: str):
    if name in _RAY_TRAINER:
        from storm.training import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
