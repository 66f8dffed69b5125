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
from storm.published.calibration import Calibration

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
class ProductExplanation:
    scores: ProductScores
    baseline: np.ndarray                  # [n, H]: the probability with every member at its mean
    contributions: dict[str, np.ndarray]  # member -> exact Shapley value [n, H] in the probability
    terms: dict[str, np.ndarray]          # used member -> its term [n, H] in the stack's logit


@dataclass
class ProductModel:
    horizons: list[int]
    members: list[str]  # every candidate the stacks saw, the neural member included
    fits: dict[int, StackFit]
    calibration: Calibration
    desk: DeskMembers

    def used_members(self) -> list[str]:
        """Members with a non-zero weight at some horizon: the ones a scan must score."""
        return [m for m in self.members if any(self.fits[h].weights.get(m, 0.0) != 0 for h in self.horizons)]

    def terms(self, probabilities: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
        """Each used member's additive term [rows, H] from its calibrated probabilities. A member without a score on
        a row (a market too young for GARCH, say) sits at its validation mean there: term 0, no information."""
        terms = {}
        for member in self.used_members():
            logit = probability_logit(probabilities[member])
            terms[member] = np.nan_to_num(np.column_stack([self.fits[h].term(member, logit[:, i])
                                                           for i, h in enumerate(self.horizons)]), nan=0.0)
        return terms

    def score(self, probabilities: dict[str, np.ndarray], rows: int) -> ProductScores:
        """The published scores from each member's calibrated probabilities [rows, H] (keyed by member)."""
        return self._scores(self.terms(probabilities, rows), rows)

    def explain(self, probabilities: dict[str, np.ndarray], rows: int) -> ProductExplanation:
        """The published scores and their exact Shapley values over the members used: every coalition's calibrated
        probability (the members outside it at their mean), so Σ members = score − baseline; a member with weight 0
        everywhere gets 0."""
        terms = self.terms(probabilities, rows)
        used = list(terms)
        stacked = np.stack([terms[m] for m in used]) if used else np.zeros((0, rows, len(self.horizons)))
        values = np.stack([self.calibration.probability(self._intercepts()[None, :] + stacked[chosen].sum(axis=0))
                           for chosen in coalitions(len(used))])  # [2^k, rows, H]; the last coalition holds all
        phi = np.einsum("cnh,cp->pnh", values, shapley_matrix(len(used)))
        contributions = {m: np.zeros_like(values[0]) for m in self.members}
        contributions.update({m: phi[i] for i, m in enumerate(used)})
        return ProductExplanation(self._scores(terms, rows), values[0], contributions, terms)

    def _scores(self, terms: dict[str, np.ndarray], rows: int) -> ProductScores:
        logit = self._intercepts()[None, :] + sum(terms.values(), np.zeros((rows, len(self.horizons))))
        probability = self.calibration.probability(logit)
        return ProductScores(logit, probability, self.calibration.alerts(probability))

    def _intercepts(self) -> np.ndarray:
        return np.array([self.fits[h].intercept for h in self.horizons])

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
