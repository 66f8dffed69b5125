"""Ray job entrypoint for the nightly scan (RayCronJob, cron, or `storm submit scan`): `storm scan` itself.

Takes `storm scan`'s options (`--date`, `--start/--end`, `--no-publish`, `--candidate`, `--force`, `--config`,
`--set key=value`; `python jobs/nightly_scan.py --help` lists them). Exit code 1 when the metrics push failed
(scores are stored; `storm metrics push --date D` republishes), 2 when the scan was refused.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from storm.cli import run_command  # sets the offline switches before anything loads a model

    return run_command("scan", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
