"""Stored per-date scores, owned by the model version that first wrote them.

Each date's scores carry a lease beside them (scores/date=D/lease.json, see
Layout.scores_lease) naming the model version that wrote them, the scan that
holds it (host, process, a random tag) and when it was taken. The lease is
created exclusively (locally a hard link that fails if the name exists, like
O_EXCL; on S3 a conditional PUT, If-None-Match: *, after probing once that the
store honours it), so of two scans racing on one date with different versions
exactly one wins. A rerun with the same version rewrites the same bytes
(idempotent); another version is refused unless `force=True` (`storm scan
--force`), or unless the lease is stale: older than `storage.lease_stale_seconds`
with no scores beside it (a scan killed between the two). After writing its
scores a scan reads the lease again: if another version took it meanwhile, the
scan withdraws its own scores and raises LeaseLost, so a date never holds one
version's lease over another's scores. A candidate run writes into its own
namespace (candidates/<run>/scores/…) and never touches production scores.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass

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


class LeaseLost(ScoresOwnedByOtherVersion):
    """Another scan took the date's lease while this one wrote its scores; this scan's scores were withdrawn."""

    def __init__(self, date: str, winner: "ScoresLease", version: str, path: str):
        self.date, self.stored_version, self.version = date, winner.model_version, version
        RuntimeError.__init__(
            self, f"scores for {date} ({path}): while this scan (model version {version}) wrote them, scan "
                  f"{winner.holder or 'unknown'} took the date's lease for version {winner.model_version}; this "
                  f"scan's scores were withdrawn so the date never mixes versions. Rescan {date} with the version "
                  "that should own it (--force to replace the other)")


class ExclusiveWritesUnsupported(ScoresOwnedByOtherVersion):
    """The object store ignores conditional creates (If-None-Match), so two scans could both win a lease."""

    def __init__(self, date: str, version: str, store_uri: str):
        self.date, self.stored_version, self.version = date, "", version
        RuntimeError.__init__(
            self, f"the object store {store_uri} does not honour exclusive creates (an S3 PUT with If-None-Match: * "
                  f"overwrote an existing object), so scores for {date} cannot be leased safely; nothing was "
                  "written. Use a store that supports conditional writes (AWS S3, recent MinIO), or run one scan "
                  "at a time with --force")


@dataclass(frozen=True)
class ScoresLease:
    date: str
    model_version: str
    candidate: str | None = None
    holder: str = ""  # host:pid:tag of the scan that took it
    taken_at: float = 0.0  # seconds since the epoch (UTC); 0 for leases from before this field

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode("utf-8")

    @classmethod
    def from_bytes(cls, payload: bytes, path: str) -> "ScoresLease":
        try:
            fields = json.loads(payload)
            return cls(date=str(fields["date"]), model_version=str(fields[MODEL_VERSION_COLUMN]),
                       candidate=fields.get("candidate"), holder=str(fields.get("holder") or ""),
                       taken_at=float(fields.get("taken_at") or 0.0))
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"scores lease {path} is not valid JSON with a model_version ({err}); "
                             f"delete it and rescan with --force") from None


def write_day_scores(store: ObjectStore, layout: Layout, date: str, table: pd.DataFrame, model_version: str,
                     candidate: str | None = None, force: bool = False, stale_after_seconds: float | None = None,
                     now: float | None = None) -> str:
    """Store date's scores under the date's lease; returns the scores path.

    Raises ScoresOwnedByOtherVersion (nothing written) when another version holds a live lease and not `force`,
    LeaseLost when another scan took the lease while this one wrote (its scores withdrawn), and
    ExclusiveWritesUnsupported when the store cannot create a lease exclusively.
    """
    _check_table_version(table, model_version, date)
    path, lease_path = layout.scores(date, candidate), layout.scores_lease(date, candidate)
    stale_after = stale_after_seconds if stale_after_seconds is not None else store.lease_stale_seconds
    ours = ScoresLease(date=date, model_version=model_version, candidate=candidate, holder=_holder(),
                       taken_at=time.time() if now is None else now)
    owner = _owner(store, layout, date, candidate)
    if owner is None:  # unclaimed: the first exclusive create wins; a loser reads who won
        if not store.honours_exclusive_create(layout.exclusive_write_probe(uuid.uuid4().hex)):
            raise ExclusiveWritesUnsupported(date, model_version, store.uri)
        claimed = store.create_exclusive(lease_path, ours.to_bytes())
        owner = ours if claimed else _owner(store, layout, date, candidate)
    if owner.model_version != model_version:
        stale = _is_stale(owner, ours.taken_at, stale_after) and not store.exists(path)
        if not (force or stale):
            raise ScoresOwnedByOtherVersion(date, owner.model_version, model_version, path, candidate)
        store.write_bytes(lease_path, ours.to_bytes())
    store.write_table(path, table)
    _check_still_ours(store, layout, date, candidate, model_version, path)
    return path


def _check_still_ours(store: ObjectStore, layout: Layout, date: str, candidate: str | None, version: str,
                      path: str) -> None:
    """After writing: the lease must still name this version; else withdraw this scan's scores and say so."""
    holder = _owner(store, layout, date, candidate)
    if holder is not None and holder.model_version != version:
        if store.exists(path) and _versions_in(store, path) == [version]:
            store.delete([path])
        raise LeaseLost(date, holder, version, path)


def scores_owner(store: ObjectStore, layout: Layout, date: str, candidate: str | None = None) -> str | None:
    """The model version that owns date's scores: its lease, else (scores from before leases) their version column."""
    owner = _owner(store, layout, date, candidate)
    return None if owner is None else owner.model_version


def _owner(store: ObjectStore, layout: Layout, date: str, candidate: str | None) -> ScoresLease | None:
    lease_path = layout.scores_lease(date, candidate)
    if store.exists(lease_path):
        return ScoresLease.from_bytes(store.read_bytes(lease_path), lease_path)
    scores_path = layout.scores(date, candidate)
    if not store.exists(scores_path):
        return None
    versions = _versions_in(store, scores_path)
    stored = versions[0] if len(versions) == 1 else ",".join(versions)
    return ScoresLease(date=date, model_version=stored, candidate=candidate, holder="scores from before leases",
                       taken_at=float("inf"))  # never stale: the scores are there


def _versions_in(store: ObjectStore, scores_path: str) -> list[str]:
    return sorted(map(str, store.read_table(scores_path).column(MODEL_VERSION_COLUMN).unique().to_pylist()))


def _is_stale(lease: ScoresLease, now: float, stale_after: float) -> bool:
    return now - lease.taken_at > stale_after


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def read_day_scores(store: ObjectStore, layout: Layout, date: str, candidate: str | None = None) -> pd.DataFrame:
    path = layout.scores(date, candidate)
    if not store.exists(path):
        raise FileNotFoundError(f"no scores for {date} at {path}; run `storm scan --start {date} --end {date}` first")
    return store.read_table(path).to_pandas()


def _check_table_version(table: pd.DataFrame, model_version: str, date: str) -> None:
    if MODEL_VERSION_COLUMN in table and len(table) and set(table[MODEL_VERSION_COLUMN].astype(str)) != {model_version}:
        raise ValueError(f"scores for {date} carry model versions {sorted(set(table[MODEL_VERSION_COLUMN]))}, "
                         f"but are being stored as version {model_version}")
