"""Transfer, measured: a model trained on one synthetic world, fine-tuned (`train.init_from`) on a second world with
fewer days, against the same model trained from scratch there; paired block-bootstrap intervals on the same test rows.

    .venv/bin/python benchmarks/bench_transfer.py --root /tmp/bench-transfer --source-seed 404 --target-seed 505 \
        --target-days 320 [--folds 2]

ROOT/source holds world A (default size) and its final model `source`; ROOT/target holds world B. The source
run is copied into B's store (models/source/…), so `--init-from source` works there as it would for a user.
"""

from __future__ import annotations

import argparse
import os

from common import offline


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--source-seed", type=int, default=404)
    parser.add_argument("--target-seed", type=int, default=505)
    parser.add_argument("--target-days", type=int, default=320)
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    offline()

    from storm.cli.common import build_config
    from storm.evaluation.predictions import collect_predictions
    from storm.evaluation.report import FoldScores, ScoredModel, build_report
    from storm.evaluation.runner import fold_run, main_horizon, trained_fold_model
    from storm.features.windows import batches_of_rows
    from storm.store import Layout, open_store
    from storm.training.trainer import train
    from storm.published.artifacts import model_exists
    from storm.splits import walk_forward_folds
    from storm.worlds import generate_world

    source = build_config(None, args.overrides + [f"storage.root={os.path.join(args.root, 'source')}",
                                                  f"world.seed={args.source_seed}", "train.run_name=source"])
    target = build_config(None, args.overrides + [f"storage.root={os.path.join(args.root, 'target')}",
                                                  f"world.seed={args.target_seed}", f"world.n_days={args.target_days}"])
    source_store, target_store = open_store(source.storage), open_store(target.storage)
    for config, store in ((source, source_store), (target, target_store)):
        if not store.exists(Layout(store).world_manifest()):
            generate_world(config, store, progress=False)
    if not model_exists(source_store, Layout(source_store), "source"):
        print(f"training the source model on world {args.source_seed}", flush=True)
        train(source)
    source_dir, target_dir = Layout(source_store).model_dir("source"), Layout(target_store).model_dir("source")
    for path in source_store.list_files(source_dir):
        if "/checkpoints/" not in path:
            target_store.write_bytes(target_dir + path[len(source_dir):], source_store.read_bytes(path))

    horizons = list(target.labels.horizons)
    folds = []
    for split in walk_forward_folds(_panel(target).dates, target.train, target.labels, args.folds):
        scratch = trained_fold_model(target, fold_run("scratch", split.name), _panel(target), split, print)
        transfer = trained_fold_model(target.with_overrides({"train.init_from": "source"}),
                                      fold_run("transfer", split.name), _panel(target), split, print)
        rows = _panel(target).panel.rows_on(split.test)
        scorers = {"fused": lambda b: {"fused": transfer.predictor.predict(b)},
                   "scratch": lambda b: {"scratch": scratch.predictor.predict(b)}}
        tables = collect_predictions(batches_of_rows(_panel(target).panel, rows, 256), scorers, horizons)
        folds.append(FoldScores(models=[ScoredModel("fused", "fused", tables["fused"]),
                                        ScoredModel("scratch", "single_modality", tables["scratch"])],
                                periods={"name": split.name}))
    report = build_report("transfer", folds, horizons, main_horizon(horizons), target.evaluation)
    for h in map(str, horizons):
        fine_tuned, scratch = report["headline"][h]["fused"], report["headline"][h]["scratch"]
        versus = report["versus_reference"][h]["scratch"]["auroc"]
        print(f"{h}d: fine-tuned AUROC {fine_tuned['auroc']:.3f}, from scratch {scratch['auroc']:.3f}, "
              f"difference {versus['estimate']:+.3f} [{versus['low']:+.3f}, {versus['high']:+.3f}] {versus['verdict']}")


_PANELS: dict = {}


def _panel(config):
    from storm.features.panel import build_panel
    from storm.ingest import read_prices
    from storm.store import Layout, open_store

    key = config.storage.root
    if key not in _PANELS:
        store = open_store(config.storage)
        prices = read_prices(store, Layout(store))
        _PANELS[key] = build_panel(config, str(prices["date"].min()), str(prices["date"].max()))
    return _PANELS[key]


if __name__ == "__main__":
    main()
