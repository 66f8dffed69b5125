"""Ray job entrypoint for training (`storm submit train`, a RayJob, or by hand on a cluster head).

Thin on purpose: parse arguments, build the config, call storm.training.train.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    from storm.cli.common import build_config, start_ray
    from storm.console import StageReporter
    from storm.training import train

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="key=value config override")
    parser.add_argument("--run", default=None, help="run name (train.run_name); the same name resumes a matching run")
    parser.add_argument("--fresh", action="store_true", help="discard an earlier run of this name started differently")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--init-from", default=None)
    parser.add_argument("--freeze-encoders", action="store_true", default=None)
    parser.add_argument("--gpu", action="store_true", default=None)
    args = parser.parse_args(argv)
    settings = build_config(args.config, args.overrides, **{
        "train.run_name": args.run, "train.num_workers": args.workers, "train.epochs": args.epochs,
        "train.init_from": args.init_from, "train.freeze_encoders": args.freeze_encoders, "train.use_gpu": args.gpu,
    })
    console = Console(highlight=False)
    start_ray(settings, console)
    result = train(settings, fresh=args.fresh, progress=StageReporter(console))
    print(f"trained {result.run} version {result.version} best epoch {result.best_epoch} "
          f"in {result.seconds:.1f}s ({result.samples_per_second:.0f} samples/s): {result.model_dir}")
    print("thresholds: " + ", ".join(f"{h}d={t:.4f}" for h, t in result.calibration.threshold.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
