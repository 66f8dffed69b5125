"""The shipped combination of the published score's members, at one horizon: what the scan applies and explains.

Fitted by storm.evaluation.stack (which also decides whether a combination or one member ships); stored as JSON
in the model version. Additive in the members' logits, so each member's exact Shapley value for the logit is its
own term.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

STACK = "stack"


@dataclass
class StackFit:
    """What ships at one horizon: logit = intercept + Σ_m weights[m] × (logit_m − means[m]) / sds[m].

    When a member ships alone its weight is 1, its sd 1 and the intercept its validation mean, so its logit passes
    through unchanged and "every member at its mean" (the explanations' baseline) is that member at its mean.
    """

    members: list[str]
    weights: dict[str, float]
    intercept: float
    means: dict[str, float]
    sds: dict[str, float]
    shipped: str  # "stack" or a member's name
    best_member: str
    gain: dict  # estimate, low, high, n_resamples: within-fold AUROC of the CV stack − the best member's
    reason: str
    member_aurocs: dict[str, float]

    def member_terms(self, logits: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Each member's additive term w_m z_m (0 where w_m = 0, even if that member is missing)."""
        return {m: self._term(m, logits) for m in self.members}

    def logit(self, logits: dict[str, np.ndarray]) -> np.ndarray:
        """The shipped combination; NaN where a member with a positive weight is NaN. A member shipped alone passes
        through bit for bit."""
        if self.shipped != STACK and self.shipped in logits:
            return np.asarray(logits[self.shipped], dtype=np.float64)
        total = np.full(np.shape(logits[self._used()[0]]), self.intercept, dtype=np.float64)
        for m in self._used():
            total = total + self._term(m, logits)
        return total

    def member_contributions(self, logits: dict[str, np.ndarray],
                             baseline: dict[str, float | np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Exact Shapley values of the members for the logit: they add up to logit − baseline logit.

        The logit is additive in members, so member m's Shapley value is its term minus its term at the baseline.
        Default baseline: every member at its mean (z = 0), whose logit is the intercept; then the value is w_m z_m.
        ``baseline`` gives members' raw logits instead (a reference day, or a market's average).
        """
        terms = self.member_terms(logits)
        if baseline is None:
            return terms
        return {m: terms[m] - self._term(m, baseline) for m in self.members}

    def term(self, member: str, logit: np.ndarray) -> np.ndarray:
        """Member m's additive term w_m (logit_m − mean_m) / sd_m for its logits alone (0 where w_m = 0)."""
        return self._term(member, {member: logit})

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> StackFit:
        return cls(**json.loads(text))

    def _used(self) -> list[str]:
        used = [m for m in self.members if self.weights[m] != 0]
        return used or self.members[:1]

    def _term(self, member: str, logits: dict) -> np.ndarray:
        weight = self.weights[member]
        if weight == 0:
            return np.zeros(np.shape(logits[member]) if member in logits else np.shape(next(iter(logits.values()))))
        return weight * ((np.asarray(logits[member], dtype=np.float64) - self.means[member]) / self.sds[member])
