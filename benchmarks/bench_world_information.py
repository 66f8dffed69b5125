"""Can any model of a world's news and calls beat prices alone, with the interval above 0? Ideal readers, held out.

No espeak, no files, no training: per synthetic world, logistic readers of the
price features and of the pressures the headlines and calls are drawn from
(storm.evaluation.information), fitted per walk-forward fold like `storm evaluate`
and scored on its test blocks with its paired block bootstrap. Prints per world
and horizon each reader's AUROC [95%], and what the pressures, and what the
written headlines and spoken calls read with the grammar known, add to prices,
with intervals. Where even those gains are not distinguishable from 0, no
model of the text and audio will show one at that world size.

    .venv/bin/python benchmarks/bench_world_information.py --seeds 211 307 409
    .venv/bin/python benchmarks/bench_world_information.py --seeds 211 307 409 --markets 96 --days 1500
    .venv/bin/python benchmarks/bench_world_information.py --seeds 211 --news-noise 1.0 --speech-noise 1.0
"""

from __future__ import annotations

import argparse
import dataclasses
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[211, 307, 409])
    parser.add_argument("--profile", default="realistic", choices=["realistic", "legacy"])
    parser.add_argument("--markets", type=int, default=24)
    parser.add_argument("--days", type=int, default=750)
    parser.add_argument("--folds", type=int, default=None)
    parser.add_argument("--news-noise", type=float, default=None)
    parser.add_argument("--speech-noise", type=float, default=None)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()

    from storm.config import EvaluationConfig, LabelConfig, TrainConfig, WorldConfig
    from storm.evaluation.information import (GRAMMAR_READER, ORACLE, PRESSURE_READER, PRICE_READER, held_out_readers,
                                          reader_gains, reader_inputs)
    from storm.worlds.synthetic import PROFILES, synthetic_world

    profile = PROFILES[args.profile]
    profile = dataclasses.replace(profile, news_daily_noise=args.news_noise or profile.news_daily_noise,
                                  speech_daily_noise=args.speech_noise or profile.speech_daily_noise)
    labels, train, settings = LabelConfig(), TrainConfig(), EvaluationConfig(bootstrap_resamples=args.resamples)
    print(f"profile {args.profile}, {args.markets} markets x {args.days} days, folds {args.folds or train.folds}; "
          f"news noise {profile.news_daily_noise}, speech noise {profile.speech_daily_noise}")
    gains = {(reader, h): [] for reader in (PRESSURE_READER, GRAMMAR_READER) for h in labels.horizons}
    for seed in args.seeds:
        began = time.perf_counter()
        world = WorldConfig(seed=seed, n_markets=args.markets, n_days=args.days, profile=args.profile)
        plan = synthetic_world(world, profile)
        data = held_out_readers(reader_inputs(plan, world, labels), labels, train, args.folds)
        results = reader_gains(data, labels.horizons, settings)
        print(f"\nworld seed-{seed} ({time.perf_counter() - began:.1f} s)")
        for h in labels.horizons:
            for reader, metrics in results[GRAMMAR_READER][h]["models"].items():
                auroc = metrics["auroc"]
                line = f"  {h:>2}d {reader:<24} AUROC {auroc.estimate:.3f} [{auroc.low:.3f}, {auroc.high:.3f}]"
                if reader in (PRESSURE_READER, GRAMMAR_READER):
                    difference, verdict = results[reader][h]["vs_reference"][PRICE_READER]["auroc"]
                    line += f"   − prices {difference.estimate:+.3f} [{difference.low:+.3f}, {difference.high:+.3f}] {verdict}"
                    gains[reader, h].append((difference.estimate, difference.low, verdict))
                print(line)
    print(f"\nwhat evidence adds to prices (reader − prices), per world; ({ORACLE}: the hidden state, not a reader)")
    for (reader, h), rows in gains.items():
        shown = ", ".join(f"{estimate:+.3f} (low {low:+.3f}, {verdict})" for estimate, low, verdict in rows)
        above = sum(verdict == "better" for _, _, verdict in rows)
        print(f"  {reader:<24} {h:>2}d: {shown}; interval above 0 in {above} of {len(rows)}")


if __name__ == "__main__":
    main()
