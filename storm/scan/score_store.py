"""Stored per-date scores, owned by the model version that first wrote them.

Each date's scores carry a lease beside them (scores/date=D/lease.json, see
Layout.scores_lease) naming the model version that wrote them, the scan that
holds it (host, process, a random tag) and when it was taken. Every write of a
lease, the scores or the explanations is a compare-and-swap on the object's
version (ObjectStore.write_if: locally under a folder lock, on S3 a PUT with
If-None-Match: * or If-Match: <ETag>, after probing once that the store honours
both), so of two scans racing on one date exactly one wins and the other is
refused with nothing of its own left behind.

A rerun with the same version rewrites the same bytes (idempotent); another
version is refused unless `force=True` (`storm scan --force`), or unless the
lease is stale: older than `storage.lease_stale_seconds` with no scores beside
it (a scan killed between the two). Scores and explanations are written only
after reading that the lease still names this version, against the object's
version seen before that read; after writing, the lease is read again, and if
another version took it meanwhile the scan withdraws what it wrote (only if it
is still what it wrote) and raises LeaseLost, so a date never holds one
version's lease over another's scores or explanations. A candidate run writes
into its own namespace (candidates/<run>/scores/…) and never touches
production scores.
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
from storm.store.objectstore import parquet_bytes

MODEL_VERSION_COLUMN = "model_version"
WRITE_ATTEMPTS = 5  # compare-and-swaps of one object before a scan gives up on a date another scan keeps rewriting


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
    """Another scan took the date's lease before or while this one wrote; nothing of this scan's is left there."""

    def __init__(self, date: str, winner: "ScoresLease | None", version: str, path: str, withdrawn: bool):
        winning_version = winner.model_version if winner is not None else "none"
        self.date, self.stored_version, self.version = date, winning_version, version
        what = ("what this scan wrote there was withdrawn" if withdrawn
                else "this scan wrote nothing there")
        RuntimeError.__init__(
            self, f"{path} ({date}): scan {(winner.holder if winner is not None else '') or 'unknown'} took the "
                  f"date's lease for version {winning_version} while this scan (model version {version}) was "
                  f"taking or holding it; {what}, so the date never mixes versions. Rescan {date} with the "
                  "version that should own it (--force to replace the other)")


class ExclusiveWritesUnsupported(ScoresOwnedByOtherVersion):
    """The object store ignores conditional writes (If-None-Match / If-Match), so two scans could both win a lease."""

    def __init__(self, date: str, version: str, store_uri: str):
        self.date, self.stored_version, self.version = date, "", version
        RuntimeError.__init__(
            self, f"the object store {store_uri} does not honour conditional writes (an S3 PUT or DELETE with "
                  f"If-None-Match: * or If-Match: <ETag> went through on a changed object), so scores for {date} "
                  "cannot be leased safely; nothing was written. Use a store that supports conditional writes "
                  "and deletes (AWS S3, or an S3-compatible store that implements them)")


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
    LeaseLost when another scan took the lease first or while this one wrote (nothing of this scan's left), and
    ExclusiveWritesUnsupported when the store cannot write conditionally.
    """
    _check_table_version(table, model_version, date)
    _require_conditional_writes(store, layout, date, model_version)
    stale_after = stale_after_seconds if stale_after_seconds is not None else store.lease_stale_seconds
    ours = ScoresLease(date=date, model_version=model_version, candidate=candidate, holder=_holder(),
                       taken_at=time.time() if now is None else now)
    _take_lease(store, layout, ours, force, stale_after)
    path = layout.scores(date, candidate)
    _write_under_lease(store, layout, date, candidate, model_version, path, parquet_bytes(table))
    return path


def write_day_explanations(store: ObjectStore, layout: Layout, date: str, table: pd.DataFrame, model_version: str,
                           candidate: str | None = None) -> str:
    """Store date's explanations beside its scores, only while the date's lease names model_version.

    Written after write_day_scores by the same scan; LeaseLost if another version took the date meanwhile (then
    nothing of this scan's explanations is left there). Returns the explanations path.
    """
    _require_conditional_writes(store, layout, date, model_version)
    path = layout.explanations(date, candidate)
    _write_under_lease(store, layout, date, candidate, model_version, path, parquet_bytes(table))
    return path


def write_day_report(store: ObjectStore, layout: Layout, date: str, html: str, model_version: str,
                     candidate: str | None = None) -> str:
    """Store the night's page (storm.scan.night_report) beside the date's scores, under the same lease as they are;
    returns its path."""
    path = layout.night_report(date, candidate)
    _write_under_lease(store, layout, date, candidate, model_version, path, html.encode("utf-8"))
    return path


def _require_conditional_writes(store: ObjectStore, layout: Layout, date: str, version: str) -> None:
    if not store.honours_conditional_writes(layout.exclusive_write_probe(uuid.uuid4().hex)):
        raise ExclusiveWritesUnsupported(date, version, store.uri)


def _take_lease(store: ObjectStore, layout: Layout, ours: ScoresLease, force: bool, stale_after: float) -> None:
    """Make the date's lease name ours.model_version: kept if it already does, created if absent, another
    version's taken over only when stale or forced.

    Creation and takeover are one compare-and-swap against the lease as read, so of two scans that both found it
    free, stale or forced, exactly one takes it; the other is refused before writing anything.
    """
    date, candidate, version = ours.date, ours.candidate, ours.model_version
    lease_path, scores_path = layout.scores_lease(date, candidate), layout.scores(date, candidate)
    seen = store.read_versioned(lease_path)
    owner = ScoresLease.from_bytes(seen[0], lease_path) if seen else _owner_from_scores(store, layout, date, candidate)
    if seen is not None and owner.model_version == version:
        return
    if owner is not None and owner.model_version != version:
        stale = _is_stale(owner, ours.taken_at, stale_after) and store.version_of(scores_path) is None
        if not (force or stale):
            raise ScoresOwnedByOtherVersion(date, owner.model_version, version, scores_path, candidate)
    if store.write_if(lease_path, ours.to_bytes(), seen[1] if seen else None) is not None:
        return
    winner = _owner(store, layout, date, candidate)  # another scan's lease landed between our read and our write
    if winner is not None and winner.model_version == version:
        return
    if owner is None and winner is not None:  # both found the date unclaimed: refused as if it had been claimed
        raise ScoresOwnedByOtherVersion(date, winner.model_version, version, scores_path, candidate)
    raise LeaseLost(date, winner, version, lease_path, withdrawn=False)


def _write_under_lease(store: ObjectStore, layout: Layout, date: str, candidate: str | None, version: str,
                       path: str, payload: bytes) -> None:
    """Write payload at path only while the date's lease names version; withdraw it if the lease changes hands.

    The object's version is read before the lease, and the write swaps only that version: a scan whose lease was
    taken after its read cannot overwrite what the new holder wrote. After the write the lease is read again; if
    another version holds it, this scan deletes its object only if it is still the one it wrote.
    """
    for _ in range(WRITE_ATTEMPTS):
        seen = store.version_of(path)
        _check_lease_names(store, layout, date, candidate, version, path, withdrawn=False)
        written = store.write_if(path, payload, seen)
        if written is not None:
            break
    else:
        raise RuntimeError(f"{path} ({date}) changed under each of {WRITE_ATTEMPTS} writes of this scan (model "
                           f"version {version}); another scan of the same version is writing the date: run one")
    try:
        _check_lease_names(store, layout, date, candidate, version, path, withdrawn=True)
    except LeaseLost:
        store.delete_if(path, written)
        raise


def _check_lease_names(store: ObjectStore, layout: Layout, date: str, candidate: str | None, version: str,
                       path: str, withdrawn: bool) -> None:
    holder = _owner(store, layout, date, candidate)
    if holder is None or holder.model_version != version:
        raise LeaseLost(date, holder, version, path, withdrawn)


def scores_owner(store: ObjectStore, layout: Layout, date: str, candidate: str | None = None) -> str | None:
    """The model version that owns date's scores: its lease, else (scores from before leases) their version column."""
    owner = _owner(store, layout, date, candidate)
    return None if owner is None else owner.model_version


def _owner(store: ObjectStore, layout: Layout, date: str, candidate: str | None) -> ScoresLease | None:
    lease_path = layout.scores_lease(date, candidate)
    seen = store.read_versioned(lease_path)
    if seen is not None:
        return ScoresLease.from_bytes(seen[0], lease_path)
    return _owner_from_scores(store, layout, date, candidate)


def _owner_from_scores(store: ObjectStore, layout: Layout, date: str, candidate: str | None) -> ScoresLease | None:
    """Scores from before leases: owned by their version column, never stale (the scores are there)."""
    scores_path = layout.scores(date, candidate)
    if store.version_of(scores_path) is None:
        return None
    versions = _versions_in(store, scores_path)
    stored = versions[0] if len(versions) == 1 else ",".join(versions)
    return ScoresLease(date=date, model_version=stored, candidate=candidate, holder="scores from before leases",
                       taken_at=float("inf"))


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
