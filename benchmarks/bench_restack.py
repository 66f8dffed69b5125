"""The product of a stored evaluation, its stack re-chosen by the code as it is now, with no model refitted.

    .venv/bin/python benchmarks/bench_restack.py --root /work/worlds/maec --run maec

A stack rule is judged on an evaluation that can take an hour (maec: 56 min with every fold model stored). The
report's `predictions.parquet` holds every member's test-block scores, which are exactly the rows folds 2..K's
stack is chosen on (storm.evaluation.product: fold k on folds 1..k−1's test blocks). So those folds are re-chosen
here with storm.evaluation.stack as it stands and applied to their own test blocks; fold 1, chosen on its validation
rows (not stored), keeps the report's own product scores. Prints per horizon and fold what ships then and in the
report, and the within-fold AUROC of the report's product, the re-chosen one and every member on the same rows
(every member scored, label known), from the combined logits before calibration. Calibration is increasing in
each horizon's logit except where it lifts a longer horizon's logit to a shorter one's (storm.published.calibration
keeps the probabilities coherent across horizons), so the report's headline, from probabilities, can differ at 10
and 20 days (stocknet vol_scaled, 20 days: 0.700 from probabilities, 0.690 from logits).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from common import offline


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True, help="the world's store")
    parser.add_argument("--run", required=True, help="the evaluation's run name (reports/<run>/)")
    args = parser.parse_args()
    offline()
    print("$ " + " ".join([sys.executable, *sys.argv]))

    from storm.config import StorageConfig
    from storm.desk.members import DESK_INCUMBENTS, DESK_MEMBERS
    from storm.desk.product import NEURAL
    from storm.evaluation.metrics import score_column, within_fold_auroc
    from storm.evaluation.product import PRODUCT, choose_at_horizon, member_logits, stored_out_of_sample
    from storm.evaluation.runner import PREDICTIONS_NAME, REPORT_NAME
    from storm.evaluation.stack import StackSettings, signed
    from storm.schema import storm_column
    from storm.store import Layout, open_store

    store = open_store(StorageConfig(root=args.root))
    layout = Layout(store)
    report = json.loads(store.read_text(layout.report_file(args.run, REPORT_NAME)))
    horizons = report["horizons"]
    rows = stored_out_of_sample(store, layout, args.run, report["labels"], horizons)
    product = store.read_table(layout.report_file(args.run, PREDICTIONS_NAME), where={"model": [PRODUCT]}).to_pandas()
    folds = sorted(rows["fold"].unique())
    names = [n for n in (*DESK_MEMBERS, NEURAL) if f"{n}:{score_column(horizons[0])}" in rows]
    incumbents = [n for n in DESK_INCUMBENTS if n in names]
    for h in horizons:
        scores = {key: [] for key in ("report", "re-chosen", *names)}
        labels, groups = [], []
        for k, fold in enumerate(folds):
            test = rows[rows["fold"] == fold]
            y = test[storm_column(h)].to_numpy(float)
            kept = ~np.isnan(y) & np.all([np.isfinite(test[f"{n}:{score_column(h)}"].to_numpy(float)) for n in names],
                                         axis=0)
            shipped = product[(product["fold"] == fold) & (product["horizon"] == h)][["market", "date", "logit"]]
            reported = test[["market", "date"]].merge(shipped, on=["market", "date"], how="left")["logit"]
            reported = reported.to_numpy(float)
            scores["report"].append(reported[kept])
            if k == 0:
                scores["re-chosen"].append(reported[kept])
            else:
                judging = rows[rows["fold"].isin(folds[:k])]
                fit = choose_at_horizon(judging, names, h, StackSettings(), incumbents)  # evaluate's own choice, fallback included
                scores["re-chosen"].append(fit.logit(member_logits(test, names, h))[kept])
                was = report["stack"][fold][str(h)]
                weights = ", ".join(f"{m} {w:.2f}" for m, w in fit.weights.items() if w)
                print(f"{h}d {fold}: now {fit.shipped} ({weights}; gain {signed(fit.gain.get('estimate'))} "
                      f"[{signed(fit.gain.get('low'))}, {signed(fit.gain.get('high'))}]) | report {was['shipped']} "
                      f"(gain {signed(was['gain'].get('estimate'))})")
            for name in names:
                scores[name].append(test[f"{name}:{score_column(h)}"].to_numpy(float)[kept])
            labels.append(y[kept])
            groups.append(np.full(int(kept.sum()), fold))
        y, g = np.concatenate(labels), np.concatenate(groups)
        aurocs = {key: within_fold_auroc(y, np.nan_to_num(np.concatenate(v), nan=-np.inf), g)
                  for key, v in scores.items()}
        best = max(names, key=lambda n: aurocs[n])
        print(f"{h}d within-fold AUROC: " + ", ".join(f"{key} {value:.4f}" for key, value in aurocs.items())
              + f" | re-chosen − report {aurocs['re-chosen'] - aurocs['report']:+.4f},"
              f" re-chosen − {best} {aurocs['re-chosen'] - aurocs[best]:+.4f}")


if __name__ == "__main__":
    main()
