"""Stored per-date scores, owned by the model version that first wrote them.

Each date's scores carry a lease beside them (scores/date=D/lease.json, see
Layout.scores_lease) naming the model version that wrote them. The lease is
created exclusively (locally a hard link that fails if the name exists,
like O_EXCL; on S3 a conditional PUT, If-None-Match: *), so of two scans
racing on one date with different versions exactly one wins. A rerun with
the same version rewrites the same bytes (idempotent); another version is
refused unless `force=True` (`storm scan --force`). A candidate run writes
into its own namespace (candidates/<run>/scores/…) and never touches
production scores.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from storm.store import Layout, ObjectStore

MODEL_VERSION_COLUMN = "model_version"


class ScoresOwnedByOtherVersion(RuntimeError):
    """A date's scores belong to another model version; replacing them needs force (`--force`)."""

    def __init__(self, date: str, stored_version: str, version: str, path: str, candidate: str | None):
        self.date, self.stored_version, self.version = date, stored_version, version
        where = f"candidate run {candidate}'s scores" if candidate else "production scores"
        super().__init__(
            f"{where} for {date} ({path}) were written by model version {stored_version}, not this scan's "
            f"version {version}; nothing was written. Rescan with --force to replace them with version {version}"
            + ("" if candidate else ", or scan a candidate run into its own namespace (--candidate)"))


@dataclass(frozen=True)
class ScoresLease:
    date: str
    model_version: str
    candidate: str | None = None

    def to_bytes(self) -> bytes:
        return json.dumps({"date": self.date, "model_version": self.model_version, "candidate": self.candidate},
                          sort_keys=True).encode("utf-8")


def write_day_scores(store: ObjectStore, layout: Layout, date: str, table: pd.DataFrame, model_version: str,
                     candidate: str | None = None, force: bool = False) -> str:
    """Store date's scores under the date's lease; returns the scores path.

    Raises ScoresOwnedByOtherVersion (nothing written) when another version owns the date and not `force`.
    """
    _check_table_version(table, model_version, date)
    path = layout.scores(date, candidate)
    lease = ScoresLease(date=date, model_version=model_version, candidate=candidate)
    owner = scores_owner(store, layout, date, candidate)
    if owner is None:  # unclaimed: the first exclusive create wins; a loser reads who won
        claimed = store.create_exclusive(layout.scores_lease(date, candidate), lease.to_bytes())
        owner = model_version if claimed else scores_owner(store, layout, date, candidate)
    if owner != model_version:
        if not force:
            raise ScoresOwnedByOtherVersion(date, owner, model_version, path, candidate)
        store.write_bytes(layout.scores_lease(date, candidate), lease.to_bytes())
    store.write_table(path, table)
    return path


def scores_owner(store: ObjectStore, layout: Layout, date: str, candidate: str | None = None) -> str | None:
    """The model version that owns date's scores: its lease, else (scores from before leases) their version column."""
    lease_path = layout.scores_lease(date, candidate)
    if store.exists(lease_path):
        try:
            return str(json.loads(store.read_text(lease_path))[MODEL_VERSION_COLUMN])
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"scores lease {lease_path} is not valid JSON with a model_version ({err}); "
                             f"delete it and rescan {date} with --force") from None
    scores_path = layout.scores(date, candidate)
    if not store.exists(scores_path):
        return None
    versions = store.read_table(scores_path).column(MODEL_VERSION_COLUMN).unique().to_pylist()
    return str(versions[0]) if len(versions) == 1 else ",".join(sorted(map(str, versions)))


def read_day_scores(store: ObjectStore, layout: Layout, date: str, candidate: str | None = None) -> pd.DataFrame:
    path = layout.scores(date, candidate)
    if not store.exists(path):
        raise FileNotFoundError(f"no scores for {date} at {path}; run `storm scan --start {date} --end {date}` first")
    return store.read_table(path).to_pandas()


def _check_table_version(table: pd.DataFrame, model_version: str, date: str) -> None:
    if MODEL_VERSION_COLUMN in table and len(table) and set(table[MODEL_VERSION_COLUMN].astype(str)) != {model_version}:
        raise ValueError(f"scores for {date} carry model versions {sorted(set(table[MODEL_VERSION_COLUMN]))}, "
                         f"but are being stored as version {model_version}")
