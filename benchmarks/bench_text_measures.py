"""What fielded text measures add to the evidence logistic on a real world, with no neural model trained.

    .venv/bin/python benchmarks/bench_text_measures.py [--root /work/worlds/stocknet] --dictionary LM.csv \
        [--folds 3] [--set labels.kind=vol_scaled ...]

On the world's store (built by `storm import`, its feature cache filled by an earlier `storm evaluate`), builds
what `storm evaluate` builds for its baselines: the evidence panel, labels, price features and walk-forward folds.
Per fold fits the price logistic, the evidence logistic (news and call activity) and the evidence logistic with the
text measures (storm.features.text_measures: LM negative/uncertainty shares, headline volume surprise, novelty),
each calibrated like every baseline, on the panel's test rows. Prints per horizon each model's within-fold AUROC
and the paired differences evidence+text − price-logit and evidence+text − evidence-logit, with 95% block-bootstrap
intervals (storm.evaluation.bootstrap, the report's own), then the seconds of each step.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from common import offline

WITH_TEXT, EVIDENCE, PRICE = "evidence+text", "evidence-logit", "price-logit"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default="/work/worlds/stocknet")
    parser.add_argument("--dictionary", default=None,
                        help="the Loughran–McDonald master dictionary CSV (none: no LM shares)")
    parser.add_argument("--folds", type=int, default=None)
    parser.add_argument("--modalities", default="[news,prices,calls]")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    offline()
    print("$ " + " ".join([sys.executable, *sys.argv]))

    import pandas as pd

    from storm.config import load_config, parse_value
    from storm.evaluation.baselines import (BaselineCalibration, evidence_activity, evidence_logistic_model,
                                            headline_measures, price_baselines, price_features)
    from storm.evaluation.bootstrap import BootstrapInput, paired_bootstrap
    from storm.evaluation.metrics import FOLD, score_column, storm_episode_count, within_fold_auroc
    from storm.features.panel import ingested_evidence
    from storm.ingest import read_prices
    from storm.labels import label_table
    from storm.schema import storm_column
    from storm.store import Layout, open_store
    from storm.splits import walk_forward_folds

    settings = {"storage.root": args.root, "model.modalities": parse_value("model.modalities", args.modalities),
                "evaluation.lm_dictionary": args.dictionary}
    settings |= {key: parse_value(key, raw) for key, _, raw in (item.partition("=") for item in args.overrides)}
    config = load_config(None, environ={}, overrides=settings)
    horizons, seconds = list(config.labels.horizons), {}
    store = open_store(config.storage)
    layout = Layout(store)
    prices = read_prices(store, layout)

    began = time.perf_counter()
    evidence = ingested_evidence(config, str(prices["date"].min()), str(prices["date"].max()), store=store)
    seconds["panel (Ray, cached embeddings)"] = time.perf_counter() - began
    began = time.perf_counter()
    labels = label_table(prices, config.labels)
    features = price_features(prices[["market", "date", "close"]], horizons, config.labels.volatility_window)
    seconds["labels and price features (GARCH, 2 processes)"] = time.perf_counter() - began
    began = time.perf_counter()
    measures = headline_measures(config, evidence.panel, prices, store, layout)
    seconds["text measures (raw lines, cache, dictionary)"] = time.perf_counter() - began
    plain, with_text = evidence_activity(evidence.panel), evidence_activity(evidence.panel, measures)
    describe(evidence.panel, measures, with_text)

    splits = walk_forward_folds(evidence.dates, config.train, config.labels, args.folds)
    began = time.perf_counter()
    tables = []
    for index, split in enumerate(splits):
        earlier = tuple(date for fold in splits[:index] for date in fold.validation)
        calibration = BaselineCalibration(config.train.calibration_prior_episodes, earlier)
        rate = config.train.false_alarm_rate
        price_logit = next(m for m in price_baselines(prices, labels, split, horizons, config.labels.volatility_window,
                                                      rate, features=features, calibration=calibration)
                           if m.name == PRICE)
        models = {PRICE: price_logit,
                  EVIDENCE: evidence_logistic_model(features, plain, labels, split, horizons, rate, calibration),
                  WITH_TEXT: evidence_logistic_model(features, with_text, labels, split, horizons, rate, calibration)}
        keys = evidence.panel.keys(evidence.panel.rows_on(split.test))
        table = keys.merge(labels[["market", "date", *map(storm_column, horizons)]], on=["market", "date"], how="left")
        for name, model in models.items():
            scores = model.predictions[["market", "date", *map(score_column, horizons)]]
            table = table.merge(scores.rename(columns={score_column(h): f"{name}:{h}" for h in horizons}),
                                on=["market", "date"], how="left")
        tables.append(table.assign(**{FOLD: split.name}))
    seconds[f"fits and calibration ({len(splits)} folds x 3 models)"] = time.perf_counter() - began
    pooled = pd.concat(tables, ignore_index=True)

    began = time.perf_counter()
    data = BootstrapInput(markets=pooled["market"].to_numpy(), dates=pooled["date"].to_numpy(),
                          labels={h: pooled[storm_column(h)].to_numpy(float) for h in horizons},
                          scores={m: {h: pooled[f"{m}:{h}"].to_numpy(float) for h in horizons}
                                  for m in (WITH_TEXT, EVIDENCE, PRICE)},
                          probabilistic={m: {h: True for h in horizons} for m in (WITH_TEXT, EVIDENCE, PRICE)},
                          folds=pooled[FOLD].to_numpy())
    figures = paired_bootstrap(data, horizons, WITH_TEXT, config.evaluation)
    seconds[f"bootstrap ({config.evaluation.bootstrap_resamples} resamples)"] = time.perf_counter() - began
    print(f"\n{args.root}: labels.kind={config.labels.kind}, {len(splits)} folds, test {splits[0].test[0]}.."
          f"{splits[-1].test[-1]}, {pooled[['market', 'date']].drop_duplicates().shape[0]} test rows")
    for h in horizons:
        y = pooled[storm_column(h)].to_numpy(float)
        episodes = storm_episode_count(pooled, h)
        print(f"{h}d ({episodes} episodes, {int(np.nansum(y))} storm days of {int((~np.isnan(y)).sum())}):")
        for model in (PRICE, EVIDENCE, WITH_TEXT):
            score = pooled[f"{model}:{h}"].to_numpy(float)
            known = ~np.isnan(y) & ~np.isnan(score)
            check = within_fold_auroc(y[known], score[known], pooled[FOLD].to_numpy()[known])
            print(f"  {model:<15} within-fold AUROC {shown(figures[h]['models'][model]['auroc'])}  (check {check:.3f})")
        for other in (PRICE, EVIDENCE):
            difference, verdict = figures[h]["vs_reference"][other]["auroc"]
            print(f"  {WITH_TEXT} − {other:<15} {shown(difference, signed=True)}  {verdict or ''}")
    print("\nseconds: " + "; ".join(f"{step} {value:.1f}" for step, value in seconds.items()))


def describe(panel, measures, activity) -> None:
    """What the measures look like on this world: days with news, their means, the columns the logistic reads."""
    from storm.evaluation.baselines import evidence_features

    if measures is None:
        print("no news in this world: no text measures")
        return
    said = np.asarray(panel.text_count) > 0
    means = ", ".join(f"{column} {measures[column].to_numpy(float)[said].mean():.4f}"
                      for column in ("lm_negative_share", "lm_uncertainty_share", "novelty"))
    print(f"{said.sum()} of {len(said)} market-days with headlines; their means: {means}")
    print("evidence+text reads: " + ", ".join(evidence_features(activity)))


def shown(interval, signed: bool = False) -> str:
    if interval.estimate is None:
        return "n/a"
    form = "+.3f" if signed else ".3f"
    bounds = "" if interval.low is None else f" [{interval.low:{form}}, {interval.high:{form}}]"
    return f"{interval.estimate:{form}}{bounds}"


if __name__ == "__main__":
    main()
