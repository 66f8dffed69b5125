"""Ray job entrypoint for training (`storm submit train`, a RayJob, or by hand on a cluster head): `storm train`.

Takes `storm train`'s options (`--run`, `--fresh`, `--workers`, `--epochs`, `--init-from`, `--freeze-encoders`,
`--gpu`, `--config`, `--set key=value`; `python jobs/train.py --help` lists them).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from storm.cli import run_command  # sets the offline switches before anything loads a model

    return run_command("train", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
