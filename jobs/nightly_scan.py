"""Ray job entrypoint for the nightly scan (RayCronJob, cron, or `storm submit scan`).

Thin on purpose: parse arguments, build the config, call the package.
Exit code 1 when the metrics push failed (scores are stored; `storm metrics push --date D` republishes).
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main(argv: list[str] | None = None) -> int:
    from storm.cli.common import build_config
    from storm.cli.scan_cmd import run_scan

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="key=value config override")
    parser.add_argument("--date", default=None, help="trading day to score (default: the last completed one)")
    parser.add_argument("--start", default=None)
    parser.add_argument("--end", default=None)
    parser.add_argument("--no-publish", action="store_true")
    parser.add_argument("--candidate", action="store_true", help="scan train.run_name into its own namespace")
    parser.add_argument("--force", action="store_true", help="replace scores another model version wrote")
    args = parser.parse_args(argv)
    settings = build_config(args.config, args.overrides)
    return run_scan(settings, start=args.date or args.start, end=args.date or args.end, publish=not args.no_publish,
                    candidate=args.candidate, force=args.force)


if __name__ == "__main__":
    sys.exit(main())
