"""What picks the kept epoch and the evidence share: AUROC only where the validation block has enough storms.

An AUROC over 0–2 storm episodes is noise: the epoch or the evidence share it picks chases the days of one fall.
Horizons whose validation block holds at least `train.selection_min_episodes` storm episodes rank by their mean
AUROC; where none does, the validation loss decides. Episodes are counted once, by the trainer, on the whole
validation set in market and date order: each worker sees only a share of its rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from storm.config import TrainConfig
from storm.labels import count_storm_episodes


@dataclass(frozen=True)
class SelectionRule:
    """The criterion, from `train.early_stopping_metric` and the validation storm episodes per horizon."""

    metric: str                # "auroc": AUROC where enough episodes, else loss; "loss": always loss
    min_episodes: int
    episodes: dict[int, int]   # validation storm episodes per horizon

    @property
    def auroc_horizons(self) -> list[int]:
        """The horizons whose AUROC may rank (none: the loss ranks)."""
        if self.metric != "auroc":
            return []
        return [h for h, count in self.episodes.items() if count >= self.min_episodes]

    def auroc_columns(self, horizons: list[int]) -> list[int]:
        """auroc_horizons as column positions in `horizons`."""
        return [horizons.index(h) for h in self.auroc_horizons]

    def criterion(self) -> str:
        """In words, for the history and the model card."""
        eligible = self.auroc_horizons
        if eligible:
            return "auroc over " + ", ".join(f"{h}d ({self.episodes[h]} episodes)" for h in eligible)
        if self.metric != "auroc":
            return "validation loss (train.early_stopping_metric: loss)"
        most = max(self.episodes.values(), default=0)
        return f"validation loss: {most} episodes at most, fewer than {self.min_episodes}"

    def score(self, val_loss: float, aurocs: list[float], horizons: list[int]) -> float:
        """Lower is better: minus the mean AUROC over the eligible horizons, else the validation loss.

        AUROC where it can be trusted: the ranking a warning lives on (the loss also rewards confidence that
        calibration re-fits anyway, and rose while AUROC still climbed). Without it, the epoch with the lowest
        loss rather than the untrained initial weights."""
        defined = [aurocs[column] for column in self.auroc_columns(horizons) if np.isfinite(aurocs[column])]
        if defined:
            return -float(np.mean(defined))
        return val_loss if np.isfinite(val_loss) else float("inf")

    def to_json(self) -> dict:
        return {"metric": self.metric, "min_episodes": self.min_episodes,
                "episodes": {str(h): count for h, count in self.episodes.items()},
                "auroc_horizons": self.auroc_horizons, "criterion": self.criterion()}

    @classmethod
    def from_json(cls, data: dict) -> "SelectionRule":
        return cls(metric=data["metric"], min_episodes=int(data["min_episodes"]),
                   episodes={int(h): int(count) for h, count in data["episodes"].items()})


def selection_rule(market: np.ndarray, labels: np.ndarray, horizons: list[int], train: TrainConfig) -> SelectionRule:
    """The rule for validation rows grouped by market in date order (labels [N, H], NaN unknown)."""
    labels = np.asarray(labels, dtype=np.float64)
    episodes = {h: count_storm_episodes(market, labels[:, column]) for column, h in enumerate(horizons)}
    return SelectionRule(metric=train.early_stopping_metric, min_episodes=train.selection_min_episodes,
                         episodes=episodes)
