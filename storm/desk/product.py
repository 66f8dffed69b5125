"""The published score: the members' calibrated probabilities, stacked per horizon, calibrated once.

A ProductModel is what one model version ships beside the neural weights (product.json): the desk members'
parameters and calibrations (storm.desk.members), per horizon the StackFit that combines every member's logit
(storm.desk.combination; possibly one member alone) and the calibration of the combined logit. The neural member's
own probability comes from its predictor; everything else is computed here from prices.

Member contributions are exact Shapley values of the published probability over the members: the value of a
coalition is the calibrated probability with the members outside it at their validation mean (their term 0), so
the contributions add up to score − baseline, the baseline being the probability with every member at its mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from storm.desk.combination import StackFit
from storm.desk.members import DeskMembers
from storm.explain.shapley import coalitions, shapley_matrix
from storm.training.calibration import Calibration

NEURAL = "fused"  # the neural member's name (the evaluation's fused model)
PRODUCT_FILE = "product.json"
PROBABILITY_CLIP = 1e-9  # logit of a calibrated probability: finite at 0 and 1


def probability_logit(probabilities: np.ndarray) -> np.ndarray:
    """logit of a calibrated probability (clipped to stay finite): comparable across fits, monotone within one."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
    return np.log(p) - np.log1p(-p)


@dataclass
class ProductScores:
    logit: np.ndarray        # [n, H] the stack's logit (before its calibration)
    probability: np.ndarray  # [n, H] the published score
    alert: np.ndarray        # [n, H] nested alerts


@dataclass
class ProductModel:
    horizons: list[int]
    members: list[str]  # every candidate the stacks saw, the neural member included
    fits: dict[int, StackFit]
    calibration: Calibration
    desk: DeskMembers

    @property
    def shipped(self) -> dict[int, str]:
        """Per horizon: "stack" or the one member that ships alone."""
        return {h: self.fits[h].shipped for h in self.horizons}

    def used_members(self) -> list[str]:
        """Members with a non-zero weight at some horizon: the ones a scan must score."""
        return [m for m in self.members if any(self.fits[h].weights.get(m, 0.0) != 0 for h in self.horizons)]

    def terms(self, probabilities: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
        """(the members used, their additive terms [k, n, H]). A member without a score on a row (a market too young
        for GARCH, say) sits at its validation mean there: term 0, no information either way."""
        used = self.used_members()
        rows = len(next(iter(probabilities.values())))
        terms = np.zeros((len(used), rows, len(self.horizons)))
        for k, member in enumerate(used):
            logit = probability_logit(probabilities[member])
            for i, h in enumerate(self.horizons):
                terms[k, :, i] = self.fits[h].term(member, logit[:, i])
        return used, np.nan_to_num(terms, nan=0.0)

    def _intercepts(self) -> np.ndarray:
        return np.array([self.fits[h].intercept for h in self.horizons])

    def score(self, probabilities: dict[str, np.ndarray]) -> ProductScores:
        """The published scores from each member's calibrated probabilities [n, H] (keyed by member)."""
        _, terms = self.terms(probabilities)
        logit = self._intercepts()[None, :] + terms.sum(axis=0)
        probability = self.calibration.probability(logit)
        return ProductScores(logit, probability, self.calibration.alerts(probability))

    def contributions(self, probabilities: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(baseline [n, H], {member: Shapley value [n, H]}) of the published probability over the members used
        (exact: every coalition's calibrated probability); a member with weight 0 everywhere gets 0.
        Σ members = score − baseline."""
        used, terms = self.terms(probabilities)
        values = np.stack([self.calibration.probability(self._intercepts()[None, :] + terms[chosen].sum(axis=0))
                           for chosen in coalitions(len(used))])  # [2^k, n, H]
        phi = np.einsum("cnh,cp->pnh", values, shapley_matrix(len(used)))
        contributions = {m: np.zeros_like(values[0]) for m in self.members}
        contributions.update({m: phi[i] for i, m in enumerate(used)})
        return values[0], contributions

    def to_json(self) -> dict:
        return {"horizons": self.horizons, "members": self.members,
                "fits": {str(h): fit.to_json() for h, fit in self.fits.items()},
                "calibration": self.calibration.to_json(), "desk": self.desk.to_json()}

    @classmethod
    def from_json(cls, data: dict) -> "ProductModel":
        return cls(horizons=[int(h) for h in data["horizons"]], members=list(data["members"]),
                   fits={int(h): StackFit.from_json(text) for h, text in data["fits"].items()},
                   calibration=Calibration.from_json(data["calibration"]), desk=DeskMembers.from_json(data["desk"]))

    def card(self) -> dict:
        """The model card's account: per horizon, what shipped, the weights, the gain and why."""
        return {str(h): {"shipped": fit.shipped, "best_member": fit.best_member,
                         "weights": {m: w for m, w in fit.weights.items() if w != 0}, "gain": fit.gain,
                         "member_aurocs": fit.member_aurocs, "reason": fit.reason} for h, fit in self.fits.items()}
