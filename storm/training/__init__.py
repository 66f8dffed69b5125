"""Training: time splits, the multi-task loss, the plain-PyTorch loop, the Ray trainer, calibration, the predictor."""

from storm.training.calibration import Calibration, fit_calibration, threshold_for_false_alarm_rate
from storm.training.predictor import Predictor, load_predictor
from storm.training.splits import DateSplit, final_split, walk_forward_folds
from storm.training.trainer import TrainResult, train

__all__ = [
    "Calibration", "DateSplit", "Predictor", "TrainResult", "fit_calibration", "load_predictor", "threshold_for_false_alarm_rate",
    "train", "walk_forward_folds", "final_split",
]
