"""Ray Data readers for raw news, market-wide news (wire), charts and audio over a date range, local or S3.

The listing comes first. Only keys of exactly ``<raw folder>/date=YYYY-MM-DD/<file>``
are read as data, dated by that match; any other key under the raw folder, and
(in a local store) anything that is no regular file, is quarantined without being
read, dated the range's last day (``bad key …``). Files of the date range whose
listed size is over ``ingest.max_file_bytes`` are quarantined without being read. The rest are read
as bytes (``read_binary_files``) and decoded per item in ``map_batches`` with a
``reason`` column, because ``read_images`` fails the whole dataset on one bad
file. Any exception of a decoder becomes that item's reason, never a failed
night. Good rows and quarantine rows are then split. A missing prefix or a
range without files gives empty datasets, not an error.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import ray
from ray.data.expressions import col

from storm.config import FeatureConfig, IngestConfig
from storm.ingest import decode
from storm.ingest.audio import SlicePlan, decode_audio
from storm.ingest.errors import RejectedInput, describe
from storm.ingest.quarantine import quarantine_record
from storm.ingest.sandbox import DecoderSandbox
from storm.schema import QUARANTINE_FIELDS
from storm.store import Layout, ObjectStore
from storm.store.layout import AUDIO_SUFFIXES, date_of, partition, raw_key_date

OK_COLUMNS = {
    "news": ("market", "date", "headline", "source_path", "content_hash"),
    "wire": ("market", "date", "headline", "source_path", "content_hash"),  # market "": every market's
    "charts": ("market", "date", "source_path", "content_hash", "pixels"),
    "audio": ("market", "date", "event", "source_path", "content_hash", "waveform"),
}
_ARROW_TYPES = {"pixels": pa.list_(pa.list_(pa.uint8())), "waveform": pa.list_(pa.list_(pa.float32()))}
_NO_PIXELS = np.zeros((0, 0), dtype=np.uint8)  # placeholder in rejected rows; dropped with them
_NO_WAVEFORM = np.zeros((0, 0), dtype=np.float32)
_BATCH_ROWS = {"news": 16, "wire": 16, "charts": 16, "audio": 2}  # a batch holds its files' bytes: few recordings at a time
_SUFFIXES = {"news": (".jsonl",), "wire": (".jsonl",), "charts": tuple(decode.IMAGE_FORMATS), "audio": AUDIO_SUFFIXES}
# the line parser of each headline source: the same bounds, the wire's lines without a market
_LINE_PARSERS = {"news": decode.parse_news_line, "wire": decode.parse_wire_line}
# Bad lines of one news file recorded one by one; beyond this they are counted in one more record. (A module
# constant, not an ingest setting: the ingest section is part of every run's fingerprint.)
MAX_REJECTS_PER_FILE = 100
# a market-wide source of at most this many bytes in range is decoded in the driver, locally (storm.ingest.readers
# _decoded_in_driver): the same decoder and quarantine, without a Ray Data job over hundreds of small files
DRIVER_DECODE_BYTES = 16 * 2**20
TASK_RETRIES = 2  # Ray Data's default is -1 (forever): a crash that escaped the sandbox would loop all night


@dataclass
class SourceIngest:
    ok: ray.data.Dataset  # OK_COLUMNS[source]
    quarantined: ray.data.Dataset  # QUARANTINE_FIELDS
    nothing_listed: bool = False   # no object of the source in range: nothing to featurise, nothing quarantined


class NothingListed(SourceIngest):
    """No object of the source in range. Its two empty datasets are built only if asked for: building them cost a
    scan about a second per absent source, every night."""

    def __init__(self, build_empty: Callable[[], SourceIngest]):
        self._build_empty = build_empty
        self.nothing_listed = True

    @cached_property
    def _built(self) -> SourceIngest:
        return self._build_empty()

    @property
    def ok(self) -> ray.data.Dataset:
        return self._built.ok

    @property
    def quarantined(self) -> ray.data.Dataset:
        return self._built.quarantined


def ingest_news(store: ObjectStore, layout: Layout, start: str, end: str, cfg: IngestConfig,
                features: FeatureConfig | None = None, known: frozenset[str] = frozenset()) -> SourceIngest:
    """Headlines, one row per good JSONL line; a bad line is quarantined and the rest of its file flows.

    ``known`` (content hashes already featurised) is not used: a JSON line is as cheap to parse as to skip.
    """
    return _ingest(store, layout, "news", start, end, cfg,
                   partial(_decode_news_batch, cfg=cfg, prefix=_uri_prefix(store), filesystem=store.arrow_fs),
                   streamed=True)


def ingest_wire(store: ObjectStore, layout: Layout, start: str, end: str, cfg: IngestConfig,
                features: FeatureConfig | None = None, known: frozenset[str] = frozenset()) -> SourceIngest:
    """Market-wide headlines (raw/wire), one row per good line with market "" (every market reads it): the news
    reader's bounds, quarantine and key rules, each line parsed by decode.parse_wire_line."""
    return _ingest(store, layout, "wire", start, end, cfg,
                   partial(_decode_news_batch, cfg=cfg, prefix=_uri_prefix(store), filesystem=store.arrow_fs,
                           source="wire"),
                   driver_bytes=DRIVER_DECODE_BYTES, streamed=True)


def ingest_charts(store: ObjectStore, layout: Layout, start: str, end: str, cfg: IngestConfig,
                  features: FeatureConfig | None = None, known: frozenset[str] = frozenset()) -> SourceIngest:
    """Chart images (PNG or JPEG) as uint8 grayscale ``pixels`` [H, W].

    An image whose content hash is in ``known`` (its features are cached) has its key, suffix and size checked
    but is not decoded again: its row is ok with empty ``pixels``.
    """
    return _ingest(store, layout, "charts", start, end, cfg,
                   partial(_decode_chart_batch, cfg=cfg, prefix=_uri_prefix(store), known=known))


def ingest_audio(store: ObjectStore, layout: Layout, start: str, end: str, cfg: IngestConfig,
                 features: FeatureConfig | None = None, known: frozenset[str] = frozenset()) -> SourceIngest:
    """Conference recordings as ``waveform``: float32 mono slices [slices, samples] at ``cfg.audio_sample_rate``.

    ``features`` says which slices of each call are kept (``features.call_slices``, ``call_mel_frames``);
    pass the run's FeatureConfig (None: its defaults). A recording whose content hash is in ``known`` (its
    features are cached) has its key, suffix and size checked but is not decoded again (empty ``waveform``).
    """
    plan = SlicePlan.of(features or FeatureConfig(), cfg)
    return _ingest(store, layout, "audio", start, end, cfg,
                   partial(_decode_audio_batch, cfg=cfg, plan=plan, prefix=_uri_prefix(store), known=known))


def _ingest(store: ObjectStore, layout: Layout, source: str, start: str, end: str, cfg: IngestConfig,
            decode_batch, driver_bytes: int = 0, streamed: bool = False) -> SourceIngest:
    """``streamed``: ``decode_batch`` reads each file itself (its batch: path and listed size), a line at a time,
    instead of receiving its bytes: a 200 MB headline file is never one object in the object store or in memory."""
    _check_range(start, end)
    base = layout.raw_dir(source)
    sizes, bad_keys = _listed_sizes(store, base, start, end)
    if not sizes and not bad_keys:
        return NothingListed(partial(_empty, source))
    readable = sorted(path for path, size in sizes.items() if size <= cfg.max_file_bytes)
    unread = [_oversize_record(_uri_prefix(store) + path, source, size, cfg)
              for path, size in sorted(sizes.items()) if size > cfg.max_file_bytes]
    unread += [quarantine_record(_uri_prefix(store) + path, source, date or end, None, reason)
               for path, (date, reason) in sorted(bad_keys.items())]
    if readable and streamed and store.is_local and sum(sizes[path] for path in readable) <= driver_bytes:
        ok, quarantined = _decoded_in_driver(readable, sizes, source, decode_batch)
    elif readable:
        raw = (ray.data.from_items([{"path": path, "size": sizes[path]} for path in readable])
               if streamed else ray.data.read_binary_files(readable, filesystem=store.arrow_fs, include_paths=True))
        # Decode once, keep it, then split: both halves read the same decoded rows.
        # Finite retries: a task that dies anyway (its node lost) is retried a few times, never forever.
        decoded = raw.map_batches(decode_batch, batch_format="numpy", batch_size=_BATCH_ROWS[source],
                                  max_retries=TASK_RETRIES).materialize()
        ok = decoded.filter(expr=col("reason") == "").select_columns(list(OK_COLUMNS[source]))
        quarantined = decoded.filter(expr=col("reason") != "").select_columns(list(QUARANTINE_FIELDS))
    else:
        nothing = _empty(source)
        ok, quarantined = nothing.ok, nothing.quarantined
    if unread:
        quarantined = quarantined.union(ray.data.from_arrow(_string_table(unread, QUARANTINE_FIELDS)))
    return SourceIngest(ok=ok, quarantined=quarantined)


def _decoded_in_driver(paths: list[str], sizes: dict[str, int], source: str,
                       decode_batch) -> tuple[ray.data.Dataset, ray.data.Dataset]:
    """(ok, quarantined) of a few small local files of a streamed source, decoded here by the same per-batch decoder
    (path and listed size) the Ray Data path runs: a job reading hundreds of small files costs more than their
    reading (one feed every market reads, the wire, is ~1 MB a year)."""
    tables = [decode_batch({"path": np.array(chunk, dtype=object),
                            "size": np.array([sizes[path] for path in chunk], dtype=np.int64)})
              for chunk in (paths[i:i + _BATCH_ROWS[source]] for i in range(0, len(paths), _BATCH_ROWS[source]))]
    decoded = pa.concat_tables(tables)
    good = pc.equal(decoded.column("reason"), "")
    return (ray.data.from_arrow(decoded.filter(good).select(list(OK_COLUMNS[source]))),
            ray.data.from_arrow(decoded.filter(pc.invert(good)).select(list(QUARANTINE_FIELDS))))


def _listed_sizes(store: ObjectStore, base: str, start: str, end: str) -> tuple[dict[str, int], dict[str, tuple]]:
    """The raw folder's listing: path -> size of every well-keyed file dated within [start, end], and apart
    path -> (date or None, reason) of every entry never to be read (a bad key, or locally no regular file).

    A refused entry under a well-formed key is kept only when its date lies in the range; a bad key has no
    date to trust, so it is reported by every range (the caller files it under the range's last day).
    """
    store.fs.invalidate_cache(base)  # a long-lived S3 client must see files written since it last listed
    listing = store.list_objects(base)
    sizes: dict[str, int] = {}
    bad: dict[str, tuple] = {}
    for path, size in listing.files.items():
        date = raw_key_date(base, path)
        if date is None:
            bad[path] = (None, _bad_key_reason(base, path))
        elif start <= date <= end:
            sizes[path] = size
    for path, kind in listing.refused.items():
        date = raw_key_date(base, path)
        if date is None or start <= date <= end:
            bad[path] = (date, f"{_key_of(base, path)}: {kind}, not a regular file; it was not read "
                               "(replace it with the file itself)")
    return sizes, bad


def _key_of(base: str, path: str) -> str:
    """path relative to the raw folder, for messages."""
    folder = base.rstrip("/") + "/"
    return path[len(folder):] if path.startswith(folder) else path


def _bad_key_reason(base: str, path: str) -> str:
    return (f"bad key {_key_of(base, path)!r}: raw objects must be named <raw folder>/date=YYYY-MM-DD/<file> "
            "(a real date, one folder deep); it was not read. Move or rename it")


def _oversize_record(source_path: str, source: str, size: int, cfg: IngestConfig) -> dict:
    """The quarantine record of an object too big to read, built from its listing alone."""
    name = source_path.rsplit("/", 1)[-1]
    market = {"charts": lambda: Layout.market_of_chart(name),
              "audio": lambda: Layout.market_and_event_of_audio(name)[0]}.get(source, lambda: None)()
    reason = _reason_of(source_path, lambda: decode.check_size(size, cfg))
    return quarantine_record(source_path, source, date_of(source_path) or "", market, reason)


def _string_table(rows: list[dict], columns) -> pa.Table:
    return pa.table({name: pa.array([row.get(name) for row in rows], type=pa.string()) for name in columns})


def _check_range(start: str, end: str) -> None:
    for date in (start, end):
        partition(date)  # raises naming the malformed date
    if start > end:
        raise ValueError(f"date range {start}..{end} is empty: start must not be after end")


def _empty(source: str) -> SourceIngest:
    def table(columns) -> pa.Table:
        return pa.table({name: pa.array([], type=_ARROW_TYPES.get(name, pa.string())) for name in columns})

    return SourceIngest(ok=ray.data.from_arrow(table(OK_COLUMNS[source])),
                        quarantined=ray.data.from_arrow(table(QUARANTINE_FIELDS)))


def _uri_prefix(store: ObjectStore) -> str:
    """What turns a filesystem path into the URI a user can open (``s3://`` on S3, nothing locally)."""
    return "" if store.is_local else f"{store.scheme}://"


# --- per-batch decoding (runs in Ray workers; rows out carry an empty reason when good) ---

def _date_of_key(path) -> str:
    """The date of a listed key (<raw folder>/date=D/<file>: checked when listed, so always there)."""
    date = date_of(str(path).rsplit("/", 1)[0])
    if date is None:
        raise ValueError(f"{path} was read but is not a <raw folder>/date=YYYY-MM-DD/<file> key")
    return date


def _decode_chart_batch(batch: dict[str, np.ndarray], cfg: IngestConfig, prefix: str,
                        known: frozenset[str] = frozenset()) -> dict[str, list]:
    digests = [decode.content_hash(payload) for payload in batch["bytes"]]
    with _decoder_unless_known(cfg, digests, known) as decoder:
        rows = [_chart_row(payload, str(path), _date_of_key(path), cfg, prefix, decoder, digest, digest in known)
                for payload, path, digest in zip(batch["bytes"], batch["path"], digests)]
    return _as_columns(rows, OK_COLUMNS["charts"])


def _chart_row(payload: bytes, path: str, date: str, cfg: IngestConfig, prefix: str, decoder, digest: str,
               known: bool) -> dict:
    market = Layout.market_of_chart(path)
    row = quarantine_record(prefix + path, "charts", date, market, "")
    row.update(content_hash=digest, pixels=_NO_PIXELS)
    if known:  # featurised before: checked as any item, never decoded again
        row["reason"] = _reason_of(path, lambda: _check_chart(payload, path, cfg))
    else:
        row["reason"] = _reason_of(path, lambda: row.update(pixels=decoder.run(_decode_chart, payload, path, cfg)))
    return row


def _check_chart(payload: bytes, path: str, cfg: IngestConfig) -> str:
    """The suffix of a well-named chart of an allowed size (else RejectedInput): what every chart passes."""
    suffix = decode.suffix_of(path, _SUFFIXES["charts"])
    decode.market_of_chart(path)
    decode.check_size(len(payload), cfg)  # the object may have grown since it was listed
    return suffix


def _decode_chart(payload: bytes, path: str, cfg: IngestConfig) -> np.ndarray:
    return decode.decode_image(payload, _check_chart(payload, path, cfg), cfg)


def _decode_audio_batch(batch: dict[str, np.ndarray], cfg: IngestConfig, plan: SlicePlan, prefix: str,
                        known: frozenset[str] = frozenset()) -> dict[str, list]:
    digests = [decode.content_hash(payload) for payload in batch["bytes"]]
    with _decoder_unless_known(cfg, digests, known) as decoder:
        rows = [_audio_row(payload, str(path), _date_of_key(path), cfg, plan, prefix, decoder, digest, digest in known)
                for payload, path, digest in zip(batch["bytes"], batch["path"], digests)]
    return _as_columns(rows, OK_COLUMNS["audio"])


def _audio_row(payload: bytes, path: str, date: str, cfg: IngestConfig, plan: SlicePlan, prefix: str,
               decoder, digest: str, known: bool) -> dict:
    market, event = Layout.market_and_event_of_audio(path)
    row = quarantine_record(prefix + path, "audio", date, market, "")
    row.update(event=event, content_hash=digest, waveform=_NO_WAVEFORM)
    if known:  # featurised before: checked as any item, never decoded again
        row["reason"] = _reason_of(path, lambda: _check_recording(payload, path, cfg))
    else:
        row["reason"] = _reason_of(path, lambda: row.update(waveform=decoder.run(_decode_recording, payload, path,
                                                                                 cfg, plan)))
    return row


class _InProcess:
    """The decoder without a sandbox (ingest.sandbox.enabled = false): same interface, same process."""

    def __enter__(self) -> "_InProcess":
        return self

    def __exit__(self, *_exc) -> None:
        return None

    @staticmethod
    def run(fn, *args):
        return fn(*args)


def _decoder(cfg: IngestConfig):
    """Where a batch's images or recordings are decoded: a sandboxed child process unless switched off."""
    return DecoderSandbox(cfg.sandbox) if cfg.sandbox.enabled else _InProcess()


def _decoder_unless_known(cfg: IngestConfig, digests: list[str], known: frozenset[str]):
    """The batch's decoder; none at all (no sandbox child started) when every item in it is already known."""
    if known and all(digest in known for digest in digests):
        return _InProcess()  # never asked to decode: only the checks run, in this process
    return _decoder(cfg)


def _check_recording(payload: bytes, path: str, cfg: IngestConfig) -> str:
    """The suffix of a well-named recording of an allowed size (else RejectedInput): what every recording passes."""
    suffix = decode.suffix_of(path, _SUFFIXES["audio"])
    decode.market_and_event_of_audio(path)
    decode.check_size(len(payload), cfg)
    return suffix


def _decode_recording(payload: bytes, path: str, cfg: IngestConfig, plan: SlicePlan) -> np.ndarray:
    return decode_audio(payload, _check_recording(payload, path, cfg), cfg, plan)


def _reason_of(path: str, decode_item: Callable[[], object]) -> str:
    """"" when ``decode_item`` succeeds, else "<file>: <why>": a decoder bug quarantines one item, not the night."""
    name = path.rsplit("/", 1)[-1]
    try:
        decode_item()
        return ""
    except RejectedInput as rejected:
        return f"{name}: {rejected.reason}"
    except Exception as err:  # noqa: BLE001 - by contract: any failure of one item is that item's quarantine reason
        return f"{name}: decoder failed ({describe(err)})"


def _decode_news_batch(batch: dict[str, np.ndarray], cfg: IngestConfig, prefix: str, filesystem,
                       source: str = "news") -> pa.Table:
    """Rows of a batch of headline files (path, listed size), each read from ``filesystem`` a line at a time."""
    rows = []
    for path, size in zip(batch["path"], batch["size"]):
        path = str(path)
        rows.extend(_news_rows(partial(filesystem.open_input_stream, path), path, int(size), _date_of_key(path),
                               cfg, prefix, source=source))
    # All-string schema even when a batch held only blank lines, so empty blocks never turn columns null.
    return _string_table(rows, dict.fromkeys((*QUARANTINE_FIELDS, *OK_COLUMNS[source])))


def _news_rows(open_stream: Callable, path: str, size: int, date: str, cfg: IngestConfig, prefix: str,
               max_rejects: int = MAX_REJECTS_PER_FILE, source: str = "news") -> list[dict]:
    """One row per non-blank line of a headline file (``source`` news or wire), read a line at a time from
    ``open_stream()``; an unusable file gives one quarantine row for the whole file.

    A line longer than ``ingest.max_news_line_bytes`` is rejected by its length while it streams past, its bytes
    never held; a file that has grown past ``ingest.max_file_bytes`` since it was listed is rejected whole."""
    name = path.rsplit("/", 1)[-1]
    base = {**quarantine_record(prefix + path, source, date, None, ""), "headline": ""}
    whole = _reason_of(path, lambda: (decode.suffix_of(path, _SUFFIXES[source]), decode.check_size(size, cfg)))
    if whole:
        return [{**base, "reason": whole, "content_hash": decode.content_hash(f"{path}:{size}".encode())}]
    parse = _LINE_PARSERS[source]
    rows, rejects = [], 0
    digest = hashlib.sha256()
    try:
        with open_stream() as stream:
            # + 1: a line may end in the \r of a CRLF file, which is dropped before the parser's own length check
            lines = decode.bounded_lines(stream, cfg.max_news_line_bytes + 1, digest, cfg.max_file_bytes)
            for number, line in lines:
                if isinstance(line, bytes):
                    line = line.rstrip(b"\r")
                    if not line.strip():
                        continue
                try:
                    if isinstance(line, int):
                        raise decode.line_too_long(line, cfg)
                    parsed = parse(line, date, cfg)
                except Exception as err:  # noqa: BLE001 - one bad line is that line's reason, never the file's
                    rejects += 1
                    if rejects > max_rejects:
                        continue  # counted in the file's summary record below, so a flood costs its parsing only
                    why = err.reason if isinstance(err, RejectedInput) else f"decoder failed ({describe(err)})"
                    held = isinstance(line, bytes)
                    key = line if held else f"{path}:{number}".encode()
                    rows.append({**base, "content_hash": decode.content_hash(key),
                                 "market": decode.market_hint(line, cfg) if source == "news" and held else None,
                                 "reason": f"{name} line {number}: {why}"})
                    continue
                rows.append({**base, "content_hash": decode.content_hash(line), **parsed})
    except Exception as err:  # noqa: BLE001 - an unreadable or overgrown file is that file's reason
        why = err.reason if isinstance(err, RejectedInput) else f"could not read the file ({describe(err)})"
        return [{**base, "reason": why, "content_hash": digest.hexdigest()}]
    if rejects > max_rejects:  # a flood of bad lines is one more record, not one row per line
        rows.append({**base, "reason": f"{name}: {rejects - max_rejects} more bad line(s) beyond the first "
                                       f"{max_rejects}, not recorded one by one", "content_hash": digest.hexdigest()})
    return rows


def _as_columns(rows: list[dict], ok_columns: tuple[str, ...]) -> dict[str, list]:
    names = dict.fromkeys((*QUARANTINE_FIELDS, *ok_columns))
    return {name: [row.get(name) for row in rows] for name in names}
