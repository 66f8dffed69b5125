"""The stack (super learner): candidates' logits combined with non-negative weights, shipped only when it is
measurably ahead of the best candidate alone.

A desk adopts storm only if it is never behind the best model it already has (Wolpert 1992; van der Laan,
Polley & Hubbard 2007). So the combination is judged on its cross-validated predictions (contiguous date
blocks, each predicted by a fit on the others) against the best single candidate, by the within-fold AUROC
with a paired moving-block bootstrap; the stack ships only if the gain's lower bound clears ``min_gain``,
otherwise the best candidate ships alone, unchanged.

Pure numpy/scipy: arrays in, a ``StackFit`` out, for one horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from threadpoolctl import threadpool_limits

from storm.desk.combination import STACK, StackFit
from storm.evaluation.bootstrap import RankedRows, resample_counts
from storm.evaluation.metrics import within_fold_auroc
from storm.labels import count_storm_episodes

@dataclass(frozen=True)
class StackSettings:
    """How the stack is fitted and judged.

    ``l2`` is the ridge strength on the standardised weights against the summed log loss (sklearn's 1/C): a
    Gaussian prior of variance 1/l2 per weight, worth about l2 rows, so it only settles near-collinear candidates.
    """

    l2: float = 1.0
    cv_blocks: int = 5  # contiguous date blocks for the cross-validated stack logits
    block_days: int = 60  # moving-block length of the bootstrap, in dates (at least the longest horizon)
    resamples: int = 500
    seed: int = 0
    confidence: float = 0.95
    min_gain: float = 0.0  # the gain's lower bound must exceed this for the stack to ship
    # fewest storm episodes (runs of storm days of one market) the judging rows must hold before any gain is
    # measured: below it the bootstrap resamples a handful of falls (one episode gives a zero-width "interval"), so
    # neither the stack nor a challenger can earn its place and the desk's best incumbent ships (as
    # evaluation.min_episodes withholds a verdict on the test blocks)
    min_episodes: int = 10


def fit_stack(logits: dict[str, np.ndarray], labels: np.ndarray, dates: np.ndarray, markets: np.ndarray,
              groups: np.ndarray, settings: StackSettings, incumbents: list[str] | None = None) -> StackFit:
    """Fit, judge and choose what ships at one horizon, on the rows (one or several folds' blocks that no candidate
    was fitted or selected on: storm.evaluation.product) whose label is known and whose every candidate logit is
    finite; ``groups`` is each row's fold.

    ``incumbents``: the members a desk already runs. Where the stack does not ship and the best member is not one
    of them, that member replaces the best incumbent only if its own gain over it has a lower bound above
    ``min_gain``: the burden of proof is on the challenger, so a judging block's noise never swaps the desk's
    model for a worse one."""
    members = list(logits)
    raw = np.column_stack([np.asarray(logits[m], dtype=np.float64) for m in members])
    labels = np.asarray(labels, dtype=np.float64)
    usable = ~np.isnan(labels) & np.isfinite(raw).all(axis=1)
    if not usable.any():
        raise ValueError(f"fit_stack: no row has a known label and a finite logit from every candidate {members}; "
                         "pass rows the candidates all scored")
    raw, labels = raw[usable], labels[usable]
    dates, markets, groups = np.asarray(dates)[usable], np.asarray(markets)[usable], np.asarray(groups)[usable]

    member_aurocs = {m: _float(within_fold_auroc(labels, raw[:, i], groups)) for i, m in enumerate(members)}
    best = _best(member_aurocs)
    ranked_incumbents = [m for m in incumbents or [] if m in members and member_aurocs[m] is not None]
    episodes = _storm_episodes(labels, markets, groups, dates)
    if episodes < settings.min_episodes:
        means, sds, _ = _standardise(raw)
        shipped = max(ranked_incumbents, key=lambda m: member_aurocs[m]) if ranked_incumbents else best
        reason = (f"{shipped} ships alone (within-fold AUROC {member_aurocs[shipped]:.3f}): the judging rows hold "
                  f"{episodes} storm episode(s), fewer than {settings.min_episodes}, too few to measure any gain "
                  "over the desk's models, so neither the stack nor a challenger is shipped.")
        return shipped_alone(members, shipped, dict(zip(members, map(float, means))),
                             dict(zip(members, map(float, sds))), best,
                             {"estimate": None, "low": None, "high": None, "n_resamples": 0, "episodes": episodes},
                             reason, member_aurocs)
    stack_cv = cross_validated_logits(dict(zip(members, raw.T)), labels, dates, settings, groups)
    # Each CV block's stack logits come from their own fit (their own intercept): ranked against another block's
    # they would measure the two fits, as a pooled AUROC measures two folds' calibrations. So the gain pairs storm
    # and calm rows of the same fold and CV block only, for the stack and the best member alike.
    pairs_within = np.char.add(np.char.add(groups.astype(str), "/"), cv_blocks(dates, settings).astype(str))
    gain = _gain(stack_cv, raw[:, members.index(best)], labels, dates, markets, pairs_within, settings)

    means, sds, z = _standardise(raw)
    if gain["low"] is not None and gain["low"] > settings.min_gain:
        intercept, weights = _fit_weights(z, labels, settings.l2, groups)
        return StackFit(members, dict(zip(members, map(float, weights))), float(intercept),
                        dict(zip(members, map(float, means))), dict(zip(members, map(float, sds))), STACK, best,
                        gain, _reason(STACK, best, member_aurocs, gain, settings, members, weights), member_aurocs)
    reason = _reason(best, best, member_aurocs, gain, settings, members, None)
    shipped = best
    if ranked_incumbents and best not in ranked_incumbents:
        incumbent = max(ranked_incumbents, key=lambda m: member_aurocs[m])
        challenge = _gain(raw[:, members.index(best)], raw[:, members.index(incumbent)], labels, dates, markets,
                          groups, settings)
        earned = challenge["low"] is not None and challenge["low"] > settings.min_gain
        shipped = best if earned else incumbent
        reason = (f"{shipped} ships alone. Of the stack: " + reason[len(f"{best} ships alone: "):]
                  if reason.startswith(f"{best} ships alone: ") else reason)
        reason += (f" {best}, the best member, is a challenger: against the desk's best, {incumbent} "
                   f"({member_aurocs[incumbent]:.3f}), it gains {signed(challenge['estimate'])} (interval "
                   f"{signed(challenge['low'])} to {signed(challenge['high'])}), "
                   + ("lower bound above 0." if earned else f"lower bound not above 0, so {incumbent} ships."))
    reason += _lead_over_runner_up(shipped, ranked_incumbents, member_aurocs, raw, members, labels, dates, markets,
                                   groups, settings)
    return shipped_alone(members, shipped, dict(zip(members, map(float, means))), dict(zip(members, map(float, sds))),
                         best, gain, reason, member_aurocs)


def _lead_over_runner_up(shipped: str, incumbents: list[str], member_aurocs: dict, raw: np.ndarray, members: list[str],
                         labels: np.ndarray, dates: np.ndarray, markets: np.ndarray, groups: np.ndarray,
                         settings: StackSettings) -> str:
    """Where an incumbent ships alone: its lead over the next incumbent, with its interval, so the card says when
    the desk's choice between two of its own models was a coin flip on these rows (a lead within noise)."""
    others = [m for m in incumbents if m != shipped]
    if shipped not in incumbents or not others:
        return ""
    runner_up = max(others, key=lambda m: member_aurocs[m])
    lead = _gain(raw[:, members.index(shipped)], raw[:, members.index(runner_up)], labels, dates, markets, groups,
                 settings)
    if lead["low"] is None:
        return ""
    verdict = ("a lead within noise: on these rows the two are interchangeable" if lead["low"] <= settings.min_gain
               else "lower bound above 0")
    return (f" Among the desk's incumbents {shipped} leads {runner_up} ({member_aurocs[runner_up]:.3f}) by "
            f"{signed(lead['estimate'])} (interval {signed(lead['low'])} to {signed(lead['high'])}), {verdict}.")


def shipped_alone(members: list[str], shipped: str, means: dict[str, float], sds: dict[str, float], best: str,
                  gain: dict, reason: str, member_aurocs: dict) -> StackFit:
    """One member ships unchanged: logit = mean + (logit − mean), its own logit; "every member at its mean" (the
    explanations' baseline) is then that member at its validation mean."""
    return StackFit(members, {m: float(m == shipped) for m in members}, means.get(shipped, 0.0), means,
                    {m: 1.0 if m == shipped else sds.get(m, 1.0) for m in members}, shipped, best, gain, reason,
                    member_aurocs)


def _storm_episodes(labels: np.ndarray, markets: np.ndarray, groups: np.ndarray, dates: np.ndarray) -> int:
    """Runs of consecutive storm rows of one market within one fold (storm.labels.count_storm_episodes)."""
    keys = np.char.add(np.char.add(np.asarray(groups).astype(str), "/"), np.asarray(markets).astype(str))
    order = np.lexsort((np.asarray(dates).astype(str), keys))
    return count_storm_episodes(keys[order], labels[order])


def signed(value: float | None) -> str:
    """A figure as the model card and the benchmarks print it: sign and four decimals, "n/a" where undefined."""
    return "n/a" if value is None else f"{value:+.4f}"


def cross_validated_logits(logits: dict[str, np.ndarray], labels: np.ndarray, dates: np.ndarray,
                           settings: StackSettings, groups: np.ndarray | None = None) -> np.ndarray:
    """The super learner's out-of-sample stack logits: the sorted dates cut into ``cv_blocks`` contiguous blocks,
    each block's rows predicted by a fit on the other blocks' rows (weights fitted within ``groups``: _fit_weights).

    Standardisation uses every row (it sees no label). Labels overlapping a block edge leak at most h days per
    edge into a fit of a handful of weights; no purge gap is kept. A held-out row gets its weights' sum without
    its group's intercept: only its order within its own fold and block is ever judged.
    """
    _, _, z = _standardise(np.column_stack([np.asarray(v, dtype=np.float64) for v in logits.values()]))
    labels = np.asarray(labels, dtype=np.float64)
    block = cv_blocks(dates, settings)
    predicted = np.full(len(labels), np.nan)
    for held_out in np.unique(block):
        train = block != held_out
        if not train.any():  # one date block only: nothing to fit on, so no honest prediction
            continue
        intercept, weights = _fit_weights(z[train], labels[train], settings.l2,
                                          None if groups is None else np.asarray(groups)[train])
        predicted[~train] = intercept + z[~train] @ weights
    return predicted


def cv_blocks(dates: np.ndarray, settings: StackSettings) -> np.ndarray:
    """Per row, its contiguous date block (0 .. cv_blocks − 1): the sorted unique dates cut into equal runs."""
    unique_dates, date_index = np.unique(np.asarray(dates), return_inverse=True)
    block_of_date = np.zeros(len(unique_dates), dtype=np.int64)
    for block, chunk in enumerate(np.array_split(np.arange(len(unique_dates)), settings.cv_blocks)):
        block_of_date[chunk] = block
    return block_of_date[date_index]


def _standardise(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    means, sds = raw.mean(axis=0), raw.std(axis=0)
    sds = np.where(sds > 0, sds, 1.0)
    return means, sds, (raw - means) / sds


def _fit_weights(z: np.ndarray, labels: np.ndarray, l2: float,
                 groups: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Intercept and weights ≥ 0 minimising mean Bernoulli log loss + ½·l2·Σw² / N (L-BFGS-B, analytic gradient).

    With ``groups`` (each row's fold), every group gets its own intercept and the weights are fitted on the
    variation within groups only. The rows of several folds carry members calibrated separately per fold, so their
    levels differ from fold to fold for reasons that have nothing to do with storms; one pooled intercept lets those
    levels, not the ranking within a fold, set the weights (stocknet, 5 days, folds 1 and 2: fits without fold
    intercepts gave every member weight 0 on two of five CV blocks, and the CV stack ranked 0.592 against GARCH's
    0.675). The returned intercept is then the row-weighted mean of the groups' intercepts."""
    n, k = z.shape
    group_index = (np.zeros(n, dtype=np.int64) if groups is None
                   else np.unique(np.asarray(groups), return_inverse=True)[1])
    n_groups = int(group_index.max()) + 1 if n else 1
    counts = np.bincount(group_index, minlength=n_groups)

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        intercepts, weights = theta[:n_groups], theta[n_groups:]
        eta = intercepts[group_index] + z @ weights
        residual = expit(eta) - labels
        loss = np.mean(np.logaddexp(0.0, eta) - labels * eta) + 0.5 * l2 * weights @ weights / n
        gradient = np.concatenate([np.bincount(group_index, weights=residual, minlength=n_groups) / n,
                                   z.T @ residual / n + l2 * weights / n])
        return float(loss), gradient

    rates = np.clip(np.bincount(group_index, weights=labels, minlength=n_groups) / np.maximum(counts, 1),
                    1e-6, 1 - 1e-6)
    start = np.concatenate([np.log(rates / (1 - rates)), np.zeros(k)])
    result = minimize(loss_and_gradient, start, jac=True, method="L-BFGS-B",
                      bounds=[(None, None)] * n_groups + [(0.0, None)] * k, options={"maxiter": 500, "gtol": 1e-10})
    intercepts = result.x[:n_groups]
    return float(intercepts @ counts / counts.sum()), np.maximum(result.x[n_groups:], 0.0)


def _best(member_aurocs: dict[str, float]) -> str:
    """The member with the highest within-fold AUROC; ties go to the first in order."""
    best = None
    for member, auroc in member_aurocs.items():
        if auroc is not None and (best is None or auroc > member_aurocs[best]):
            best = member
    if best is None:
        raise ValueError("fit_stack: no fold holds both storm and calm rows, so no candidate can be ranked; "
                         "pass blocks that hold storms")
    return best


def _gain(stack: np.ndarray, best: np.ndarray, labels: np.ndarray, dates: np.ndarray, markets: np.ndarray,
          groups: np.ndarray, settings: StackSettings) -> dict:
    """Within-fold AUROC of the CV stack − the best member's, and its percentile interval over paired resamples.

    A resample draws markets with replacement and moving blocks of consecutive dates within each fold (a date
    seen by two folds counts once per fold); both sides are scored on the same weights. The best member is held
    fixed (chosen on these rows, which favours it, so the rule errs toward not shipping the stack).
    """
    rows = np.flatnonzero(~np.isnan(stack))
    aurocs = {"stack_auroc": _float(within_fold_auroc(labels[rows], stack[rows], groups[rows])),
              "best_auroc": _float(within_fold_auroc(labels[rows], best[rows], groups[rows]))}
    estimate = None if None in aurocs.values() else aurocs["stack_auroc"] - aurocs["best_auroc"]
    if estimate is None or settings.resamples <= 0:
        return {"estimate": estimate, "low": None, "high": None, "n_resamples": 0, **aurocs}
    market_index = np.unique(markets, return_inverse=True)[1]
    group_index = np.unique(groups, return_inverse=True)[1]
    date_index = np.unique(dates, return_inverse=True)[1]
    unit_ids, unit_index = np.unique(group_index * (date_index.max() + 1) + date_index, return_inverse=True)
    unit_group = unit_ids // (date_index.max() + 1)
    ranked = [RankedRows(scores, labels, rows, 1, groups) for scores in (stack, best)]
    samples = []
    with threadpool_limits(1):
        for market_counts, date_counts in resample_counts(market_index.max() + 1, len(unit_ids), settings.resamples,
                                                          settings.block_days, settings.seed, unit_group):
            weights = market_counts[market_index] * date_counts[unit_index]
            samples.append(ranked[0].metrics(weights, False)["auroc"] - ranked[1].metrics(weights, False)["auroc"])
    differences = np.concatenate(samples)
    defined = differences[~np.isnan(differences)]
    if not len(defined):
        return {"estimate": estimate, "low": None, "high": None, "n_resamples": 0, **aurocs}
    tail = 100 * (1 - settings.confidence) / 2
    low, high = np.percentile(defined, [tail, 100 - tail])
    return {"estimate": estimate, "low": float(low), "high": float(high), "n_resamples": int(len(defined)), **aurocs}


def _reason(shipped: str, best: str, member_aurocs: dict, gain: dict, settings: StackSettings, members: list[str],
            weights: np.ndarray | None) -> str:
    """One sentence for the model card, with the figures."""
    if gain["low"] is None:
        return (f"{best} ships alone (within-fold AUROC {member_aurocs[best]:.3f}): the stack's gain over it could "
                f"not be measured on these rows.")
    figures = (f"the stack's cross-validated AUROC {gain['stack_auroc']:.3f} vs {best}'s {gain['best_auroc']:.3f} "
               f"(pairs within each fold's CV block), gain {gain['estimate']:+.4f} ({100 * settings.confidence:g}% interval "
               f"{gain['low']:+.4f} to {gain['high']:+.4f}, {gain['n_resamples']} resamples)")
    if shipped == STACK:
        used = ", ".join(f"{m} {w:.2f}" for m, w in zip(members, weights) if w > 0)
        return f"The stack ships ({used}): {figures}, lower bound above {settings.min_gain:g}."
    return f"{best} ships alone: {figures}, lower bound not above {settings.min_gain:g}."


def _float(value: float) -> float | None:
    return None if value is None or value != value else float(value)
