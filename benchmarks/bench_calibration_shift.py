"""Calibration under a base rate that differs between validation and test: Brier, ECE and horizon-order violations.

Synthetic logits whose true calibration is known (as in tests/training/test_calibration.py): a day's latent risk
r ~ N(mu, 1) sets the true cumulative hazard Λ_j = (h_j / 20) e^r; storms within h_j are nested draws. The model
reports a biased, over-confident hazard k_j Λ_j^γ, either coherent (the new heads) or with independent noise
per horizon (the old, separate linear heads); "logit-linear" heads instead report 2.5 logit(P) + b_j, a world
where per-horizon Platt scaling is the true family and the hazard map is misspecified.
Validation and test differ only in mu (20-day base rate 10% vs 5%).

    PYTHONPATH=. python benchmarks/bench_calibration_shift.py [--days 30000] [--seeds 5]
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.optimize import brentq, minimize, minimize_scalar
from scipy.special import expit

from storm.published.calibration import fit_calibration

HORIZONS = [5, 10, 20]
MODEL_BIAS = np.array([40.0, 30.0, 20.0])
OVERCONFIDENCE = 1.5


def hazard_scale(base_rate_20d: float) -> float:
    grid = np.random.default_rng(0).normal(size=200_000)
    return brentq(lambda mu: np.mean(-np.expm1(-np.exp(mu + grid))) - base_rate_20d, -15, 5)


def world(n: int, base_rate_20d: float, seed: int, heads: str):
    rng = np.random.default_rng(seed)
    risk = hazard_scale(base_rate_20d) + rng.normal(size=n)
    true_hazard = np.exp(risk)[:, None] * (np.array(HORIZONS) / 20.0)[None, :]
    labels = (true_hazard >= rng.exponential(size=n)[:, None]).astype(float)
    logits = np.log(np.expm1(MODEL_BIAS * true_hazard ** OVERCONFIDENCE))
    if heads == "independent":
        logits = logits + rng.normal(0, 0.5, size=logits.shape)
    if heads == "logit-linear":  # a world where per-horizon Platt, not the hazard map, is the true family
        truth = -np.expm1(-true_hazard)
        logits = 2.5 * np.log(truth / (1 - truth)) + np.array([3.0, 2.5, 2.0])
    return logits, labels, -np.expm1(-true_hazard)


def old_temperature(logits, labels):
    """The removed method: one free temperature per horizon, sigmoid(logit / T_h)."""
    temperatures = []
    for j in range(logits.shape[1]):
        x, y = logits[:, j], labels[:, j]
        nll = lambda log_t: np.mean(np.logaddexp(0, x / np.exp(log_t)) - y * x / np.exp(log_t))  # noqa: E731
        temperatures.append(np.exp(minimize_scalar(nll, bounds=(np.log(0.05), np.log(20)), method="bounded").x))
    return lambda test: expit(test / np.array(temperatures))


def per_horizon_platt(logits, labels):
    """Reference, not order-preserving: sigmoid(a_h * logit + b_h) fitted per horizon."""
    params = []
    for j in range(logits.shape[1]):
        x, y = logits[:, j], labels[:, j]
        nll = lambda p: np.mean(np.logaddexp(0, p[0] * x + p[1]) - y * (p[0] * x + p[1]))  # noqa: E731
        params.append(minimize(nll, [1.0, 0.0], method="L-BFGS-B").x)
    params = np.array(params)
    return lambda test: expit(params[:, 0] * test + params[:, 1])


def methods(logits, labels):
    return {
        "old temperature": old_temperature(logits, labels),
        "platt per horizon": per_horizon_platt(logits, labels),
        "hazard (default)": fit_calibration(logits, labels, HORIZONS, 0.1, method="hazard").probability,
        "isotonic": fit_calibration(logits, labels, HORIZONS, 0.1, method="isotonic").probability,
    }


def ece(probabilities, labels, bins: int = 10) -> float:
    which = np.clip(np.digitize(probabilities, np.linspace(0, 1, bins + 1)[1:-1]), 0, bins - 1)
    return float(sum(abs(probabilities[which == b].mean() - labels[which == b].mean()) * np.mean(which == b)
                     for b in range(bins) if np.any(which == b)))


def order_violations(probabilities, tolerance: float = 1e-6) -> int:
    """Rows (days) where some shorter horizon's probability exceeds a longer one's by more than tolerance."""
    running = np.maximum.accumulate(probabilities, axis=1)
    return int(np.sum(np.any(running - probabilities > tolerance, axis=1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30_000)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    for heads in ("coherent", "independent", "logit-linear"):
        for validation_rate, test_rate in ((0.10, 0.05), (0.05, 0.10)):
            results: dict[str, list] = {}
            for seed in range(args.seeds):
                logits, labels, _ = world(args.days, validation_rate, 100 + seed, heads)
                test_logits, test_labels, truth = world(args.days, test_rate, 200 + seed, heads)
                fitted = {"truth": lambda _: truth, **methods(logits, labels)}
                for name, probability in fitted.items():
                    p = probability(test_logits)
                    row = [np.mean((p[:, j] - test_labels[:, j]) ** 2) for j in range(3)]
                    row += [ece(p[:, j], test_labels[:, j]) for j in range(3)] + [order_violations(p)]
                    results.setdefault(name, []).append(row)
            print(f"\n{heads} heads, validation 20d base rate {validation_rate:.0%} -> test {test_rate:.0%} "
                  f"({args.days} test days, mean of {args.seeds} seeds)")
            print(f"{'method':<20}" + "".join(f"{'Brier ' + str(h) + 'd':>11}" for h in HORIZONS)
                  + "".join(f"{'ECE ' + str(h) + 'd':>10}" for h in HORIZONS) + f"{'order violations':>18}")
            for name, rows in results.items():
                mean = np.mean(rows, axis=0)
                print(f"{name:<20}" + "".join(f"{v:>11.4f}" for v in mean[:3])
                      + "".join(f"{v:>10.4f}" for v in mean[3:6]) + f"{mean[6]:>18.1f}")


if __name__ == "__main__":
    main()
