"""How realistic is the synthetic world? Price process and evidence views only: no espeak, no files.

Per seed and as mean ± std over seeds: storm rates per horizon, and AUROC for
20-day storms of
- trailing 20-day volatility (the S&P 500 1999–2018 reference is printed);
- the fragility oracle, and with --ceiling-paths the real ceiling;
- one day of news pressure, and its trailing 40-day mean;
- one conference's speech pressure (conference days only), and the trailing
  40-day mean over conference days (days with none in the last 40 left out);
- in-sample logistic regressions: trailing vol plus both 40-day means; the
  price logistic's features (20/60-day vol, drawdown from the 60-day peak,
  5/20-day returns; GARCH left out for speed); those plus both 40-day means.
  The evidence must carry information beyond prices.

    .venv/bin/python benchmarks/bench_world_realism.py --seeds 5 --profile realistic
    .venv/bin/python benchmarks/bench_world_realism.py --process garch_leverage=0.15 --news-noise 3.0
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

EVIDENCE_WINDOW = 40  # trading days of evidence averaged, about what the model's 60-day window sees


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """[markets, days] mean of the last ``window`` non-NaN values up to each day (NaN where none)."""
    frame = pd.DataFrame(values.T)
    return frame.rolling(window, min_periods=1).mean().to_numpy().T


def auroc(score: np.ndarray, label: np.ndarray) -> float:
    known = np.isfinite(score) & np.isfinite(label)
    return float(roc_auc_score(label[known], score[known]))


def combined_auroc(features: list[np.ndarray], label: np.ndarray) -> float:
    """In-sample AUROC of a logistic regression on the features: is there information beyond prices?"""
    from sklearn.linear_model import LogisticRegression

    table = np.stack([f.reshape(-1) for f in features] + [label.reshape(-1)], axis=1)
    table = table[np.isfinite(table).all(axis=1)]
    fitted = LogisticRegression(C=np.inf, max_iter=1000).fit(table[:, :-1], table[:, -1])
    return float(roc_auc_score(table[:, -1], fitted.decision_function(table[:, :-1])))


def sp500_trailing_vol_auroc(threshold: float) -> float:
    from arch.data import sp500

    from storm.evaluation.baselines import trailing_log_volatility
    from storm.labels import storm_flags

    close = sp500.load()["Adj Close"].to_numpy()
    return auroc(trailing_log_volatility(close, 20), storm_flags(close, 20, threshold))


def measure_world(world, profile, horizons: list[int], threshold: float, ceiling_paths: int) -> dict[str, float]:
    from storm.evaluation.baselines import trailing_log_volatility
    from storm.labels import storm_flags
    from storm.worlds.ceiling import storm_probabilities
    from storm.worlds.generate import conference_days
    from storm.evaluation.information import price_reader_features
    from storm.worlds.synthetic import synthetic_world

    plan = synthetic_world(world, profile)
    closes = [plan.prices[m]["close"].to_numpy() for m in plan.markets]
    storms = {h: np.stack([storm_flags(c, h, threshold) for c in closes]) for h in horizons}
    storm_20d = storms[20]
    speech = np.full(plan.speech_pressure.shape, np.nan)
    for market, day in conference_days(plan, world.conferences_per_month):
        speech[market, day] = plan.speech_pressure[market, day]
    row = {f"rate_{h}d": float(np.nanmean(storms[h])) for h in horizons}
    row |= {
        "trailing_vol": auroc(np.stack([trailing_log_volatility(c, 20) for c in closes]), storm_20d),
        "oracle": auroc(plan.fragility, storm_20d),
        "news_1d": auroc(plan.news_pressure, storm_20d),
        "news_40d": auroc(trailing_mean(plan.news_pressure, EVIDENCE_WINDOW), storm_20d),
        "speech_1d": auroc(speech, storm_20d),
        "speech_40d": auroc(trailing_mean(speech, EVIDENCE_WINDOW), storm_20d),
    }
    evidence = [trailing_mean(plan.news_pressure, EVIDENCE_WINDOW), trailing_mean(speech, EVIDENCE_WINDOW)]
    row["vol+evidence"] = combined_auroc([np.stack([trailing_log_volatility(c, 20) for c in closes]), *evidence],
                                         storm_20d)
    row["price_logit"] = combined_auroc(price_reader_features(np.stack(closes)), storm_20d)
    row["price+evidence"] = combined_auroc([*price_reader_features(np.stack(closes)), *evidence], storm_20d)
    if ceiling_paths:
        began, cpu_began = time.perf_counter(), time.process_time()
        ceiling = storm_probabilities(plan.hidden, horizons, threshold, ceiling_paths, np.random.default_rng(world.seed))
        row["ceiling"] = auroc(ceiling[horizons.index(20)], storm_20d)
        row["ceiling_s"] = time.perf_counter() - began
        row["ceiling_cpu_s"] = time.process_time() - cpu_began
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5, help="worlds with seeds 1001, 1002, …")
    parser.add_argument("--profile", default="realistic", choices=["realistic", "legacy"])
    parser.add_argument("--markets", type=int, default=24)
    parser.add_argument("--days", type=int, default=750)
    parser.add_argument("--ceiling-paths", type=int, default=0, help="also the real ceiling's AUROC (slower)")
    parser.add_argument("--process", nargs="*", default=[], help="PriceProcess overrides, e.g. garch_leverage=0.15")
    parser.add_argument("--news-noise", type=float, default=None)
    parser.add_argument("--speech-noise", type=float, default=None)
    args = parser.parse_args()

    from storm.config import LabelConfig, WorldConfig
    from storm.worlds.synthetic import PROFILES

    profile = PROFILES[args.profile]
    process = dataclasses.replace(profile.process, **{k: float(v) for k, v in (o.split("=") for o in args.process)})
    profile = dataclasses.replace(profile, process=process,
                                  news_daily_noise=args.news_noise or profile.news_daily_noise,
                                  speech_daily_noise=args.speech_noise or profile.speech_daily_noise)
    labels = LabelConfig()
    print(f"profile {args.profile}, {args.markets} markets x {args.days} days; {profile}")
    rows = {}
    for seed in range(1001, 1001 + args.seeds):
        world = WorldConfig(seed=seed, n_markets=args.markets, n_days=args.days, profile=args.profile)
        rows[seed] = measure_world(world, profile, labels.horizons, labels.drawdown_threshold, args.ceiling_paths)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "seed"
    summary = pd.DataFrame({"mean": table.mean(), "std": table.std(ddof=1)}).T
    pd.set_option("display.width", 200)
    print(pd.concat([table, summary]).round(3).to_string())
    print(f"reference: S&P 500 1999-2018 trailing-vol AUROC (20d storms) = "
          f"{sp500_trailing_vol_auroc(labels.drawdown_threshold):.3f}")


if __name__ == "__main__":
    main()
