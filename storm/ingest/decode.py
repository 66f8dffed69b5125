"""Pure per-item validation and decoding of raw inputs: bytes in, array or record out.

No Ray and no I/O here, so every rule is unit-tested (and fuzzed) on hand-made
bytes. A decoder either returns the decoded item or raises ``RejectedInput``
whose ``reason`` names the rule and the value; the readers add the file name
and turn it into a quarantine record. Every bound is checked before decoding.
Audio lives in ``storm.ingest.audio``.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import re
import warnings
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from storm.config import IngestConfig
from storm.ingest.errors import RejectedInput, describe
from storm.store.layout import AUDIO_SUFFIXES, Layout, check_market

__all__ = ["RejectedInput", "describe"]

# File suffix -> the one Pillow format a chart of that name may hold; no other decoder is ever tried.
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
IMAGE_MODES = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "I;16", "I", "CMYK", "YCbCr"}
_JSON_TOKENS = re.compile(r'\\.|["\[\]{}]', re.DOTALL)  # an escape pair, a quote or a bracket: scanned once
_JSON_MEMBER_TOKENS = re.compile(r'\\.|[":]', re.DOTALL)  # an escape pair, a quote or a colon


def content_hash(payload: bytes) -> str:
    """The sha256 hex digest that keys cached features of this exact item."""
    return hashlib.sha256(payload).hexdigest()


def check_size(size: int, cfg: IngestConfig) -> None:
    """Oversized objects are rejected from their listed size, before a byte is read."""
    if size > cfg.max_file_bytes:
        raise RejectedInput(f"object is {size} bytes, over ingest.max_file_bytes={cfg.max_file_bytes}; not read")


def suffix_of(path: str, allowed: tuple[str, ...]) -> str:
    """The file's (lower-case) suffix when it is one of ``allowed``, else a rejection naming what is accepted."""
    name = path.rsplit("/", 1)[-1].lower()
    found = next((suffix for suffix in allowed if name.endswith(suffix)), None)
    if found is None:
        raise RejectedInput(f"unexpected file type: expected a {' / '.join(allowed)} file here")
    return found


def decode_image(payload: bytes, suffix: str, cfg: IngestConfig) -> np.ndarray:
    """PNG or JPEG bytes -> uint8 grayscale [H, W].

    Format, mode and width x height come from the header (``Image.open`` does
    not decode pixels) and are checked before ``load()``, so a pixel bomb is
    never decompressed. ``load()`` then forces the full decode, so truncated or
    corrupt data is caught here, not later in training.
    """
    expected = IMAGE_FORMATS[suffix]
    if expected == "JPEG":
        check_jpeg_scans(payload, cfg.sandbox.max_jpeg_scans)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(payload), formats=(expected,)) as image:
                _check_image_header(image, expected, cfg)
                image.load()
                return np.asarray(image.convert("L"), dtype=np.uint8)
    except RejectedInput:
        raise
    except UnidentifiedImageError:
        raise RejectedInput(f"corrupt {expected}: not a recognisable {expected} image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise RejectedInput(f"{expected} pixel bomb refused before decoding, over ingest.max_image_pixels="
                            f"{cfg.max_image_pixels} ({err})") from None
    except Exception as err:  # Pillow raises OSError, SyntaxError, ValueError, struct.error... for damaged data
        raise RejectedInput(f"corrupt or truncated {expected} ({describe(err)})") from None


def check_jpeg_scans(payload: bytes, limit: int) -> None:
    """A progressive JPEG is decoded once per scan: thousands of scans in a few hundred KB are a CPU bomb.

    Counts start-of-scan markers (FF DA) without decoding. Entropy-coded data never holds FF DA (an FF there
    is followed by 00 or a restart marker), so the count is exact, or higher when metadata holds the bytes.
    """
    scans = payload.count(b"\xff\xda")
    if scans > limit:
        raise RejectedInput(f"JPEG has {scans} scans, over ingest.sandbox.max_jpeg_scans={limit} (a decode-time bomb); "
                            "not decoded")


def _check_image_header(image: Image.Image, expected: str, cfg: IngestConfig) -> None:
    if image.format != expected:
        raise RejectedInput(f"content is {image.format}, expected {expected}")
    width, height = image.size
    if width < 1 or height < 1 or width * height > cfg.max_image_pixels:
        raise RejectedInput(f"image is {width}x{height} = {width * height} pixels, outside 1..ingest.max_image_pixels="
                            f"{cfg.max_image_pixels}; not decoded")
    if image.mode not in IMAGE_MODES:
        raise RejectedInput(f"image mode {image.mode!r} is not one of {sorted(IMAGE_MODES)}")


def market_of_chart(path: str) -> str:
    """The market a chart file names (``<market>.png``), or a rejection for a bad name."""
    return _valid_market(Layout.market_of_chart(path), path)


def market_and_event_of_audio(path: str) -> tuple[str, str]:
    """``<market>-<event>.<ext>`` -> (market, event), or a rejection for a bad name."""
    market, event = Layout.market_and_event_of_audio(path)
    if not event:
        raise RejectedInput(f"audio file name must be <market>-<event>.<{'|'.join(s[1:] for s in AUDIO_SUFFIXES)}>, "
                            f"got {path.rsplit('/', 1)[-1]!r}")
    return _valid_market(market, path), event


def _valid_market(market: str, path: str) -> str:
    try:
        return check_market(market)
    except ValueError as err:
        raise RejectedInput(f"bad market name in file name {path.rsplit('/', 1)[-1]!r}: {err}") from None


def parse_news_line(line: bytes, partition_date: str, cfg: IngestConfig) -> dict[str, Any]:
    """One JSONL line -> {market, date, headline}, checked against the raw news contract."""
    item = _headline_object(line, "news", cfg)
    market = _required_text(item, "market")
    try:
        check_market(market)
    except ValueError as err:
        raise RejectedInput(f"bad market name: {err}") from None
    headline = _headline(item, cfg)
    return {"market": market, "date": _partition_date(item, partition_date), "headline": headline}


def parse_wire_line(line: bytes, partition_date: str, cfg: IngestConfig) -> dict[str, Any]:
    """One market-wide JSONL line -> {market: "", date, headline}: the news contract without a market (every market
    reads it); a line naming a market belongs to raw/news and is rejected, never broadcast to every market."""
    item = _headline_object(line, "market-wide", cfg)
    if "market" in item:
        raise RejectedInput("a market-wide line names no market (this one has 'market'; per-market items belong in "
                            "raw/news: storm import news --market-column)")
    headline = _headline(item, cfg)
    return {"market": "", "date": _partition_date(item, partition_date), "headline": headline}


def _headline_object(line: bytes, kind: str, cfg: IngestConfig) -> dict[str, Any]:
    return bounded_json(line, cfg, object_of=kind)  # a line opening with '{' parses to a dict or is rejected


def _headline(item: dict[str, Any], cfg: IngestConfig) -> str:
    headline = _required_text(item, "headline")
    if len(headline) > cfg.max_headline_chars:
        raise RejectedInput(
            f"headline has {len(headline)} characters, over ingest.max_headline_chars={cfg.max_headline_chars}"
        )
    return headline


def _partition_date(item: dict[str, Any], partition_date: str) -> str:
    if "date" in item and item["date"] != partition_date:
        raise RejectedInput(f"date {str(item['date'])[:40]!r} disagrees with its partition date={partition_date}")
    return partition_date


STREAM_CHUNK_BYTES = 1 << 20


def bounded_lines(stream, max_line_bytes: int, digest=None, max_total_bytes: int | None = None,
                  chunk_bytes: int = STREAM_CHUNK_BYTES):
    """(line number, line) for each line of a binary ``stream`` read a chunk at a time, the newline dropped; a line
    longer than ``max_line_bytes`` comes as its length (an int) instead, its bytes never held together.

    ``digest``: a hashlib object updated with every byte read. ``max_total_bytes``: past it, RejectedInput (a file
    that grew after it was listed). Memory stays within one chunk plus ``max_line_bytes`` whatever the file holds.
    """
    number, total, skipped = 0, 0, 0  # skipped: bytes so far of a line already too long
    pending: list[bytes] = []
    held = 0
    while True:
        chunk = stream.read(chunk_bytes)
        if not chunk:
            break
        total += len(chunk)
        if max_total_bytes is not None and total > max_total_bytes:
            raise RejectedInput(f"object grew past ingest.max_file_bytes={max_total_bytes} while read; not read")
        if digest is not None:
            digest.update(chunk)
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if skipped:
                skipped += len(piece)
            elif held + len(piece) > max_line_bytes:
                skipped, pending, held = held + len(piece), [], 0
            elif piece:
                pending.append(piece)
                held += len(piece)
            if end < 0:
                break
            number += 1
            yield number, (skipped if skipped else b"".join(pending))
            skipped, pending, held = 0, [], 0
            start = end + 1
    if skipped or pending:  # a last line without its newline
        yield number + 1, (skipped if skipped else b"".join(pending))


def line_too_long(length: int, cfg: IngestConfig) -> RejectedInput:
    """The rejection of a line over ``ingest.max_news_line_bytes``, whether it was held (bounded_json) or only
    measured as it streamed past (bounded_lines)."""
    return RejectedInput(f"line is {length} bytes, over ingest.max_news_line_bytes={cfg.max_news_line_bytes}; not parsed")


def bounded_json(line: bytes, cfg: IngestConfig, object_of: str | None = None) -> Any:
    """Parse one line of JSON with its length, nesting depth, numbers and Unicode bounded first.

    ``object_of``: the line must hold one JSON object (a ``object_of`` line): anything that does not open with
    ``{`` is rejected before any parsing, so a flood of garbage lines costs a byte comparison each."""
    if len(line) > cfg.max_news_line_bytes:
        raise line_too_long(len(line), cfg)
    if object_of is not None and line.lstrip()[:1] != b"{":
        raise RejectedInput(f"malformed JSON: a {object_of} line is one JSON object, and this one does not start "
                            "with '{'")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RejectedInput(f"not UTF-8 text: {err}") from None
    # the field count first: its scan stops past the cap, where the depth scan reads a wide line to its end
    if text.count(":") > cfg.max_json_members and json_members(text, cfg.max_json_members) > cfg.max_json_members:
        raise RejectedInput(f"JSON holds more than ingest.max_json_members={cfg.max_json_members} key: value pairs; "
                            "not parsed")
    if json_depth(text, stop_above=cfg.max_json_depth) > cfg.max_json_depth:
        raise RejectedInput(f"JSON nests deeper than ingest.max_json_depth={cfg.max_json_depth} levels; not parsed")
    try:
        return _json_decoder(cfg.max_json_number_chars).decode(text)
    except RejectedInput:
        raise
    except (json.JSONDecodeError, RecursionError, ValueError) as err:
        raise RejectedInput(f"malformed JSON: {describe(err)}") from None


@functools.lru_cache(maxsize=8)
def _json_decoder(max_number_chars: int) -> json.JSONDecoder:
    """One decoder per number bound, reused line after line: json.loads with hooks builds a new one per call, which
    is a third of the cost of rejecting a flood of bad lines."""
    return json.JSONDecoder(parse_int=lambda s: _number(s, int, max_number_chars),
                            parse_float=lambda s: _number(s, float, max_number_chars),
                            parse_constant=_no_constant, object_pairs_hook=_unicode_object)


def json_depth(text: str, stop_above: int | None = None) -> int:
    """Deepest nesting of [ and { outside strings, in one linear pass (no parsing, so nothing can recurse).

    With ``stop_above``, the scan ends at the first bracket deeper than that: a line of 60k brackets costs no more
    than one that is just too deep.
    """
    depth = deepest = 0
    for mark in _outside_strings(text, _JSON_TOKENS):
        if mark in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if stop_above is not None and deepest > stop_above:
                break
        else:
            depth -= 1
    return deepest


def json_members(text: str, stop_above: int) -> int:
    """Colons outside strings (the key: value pairs of every object), counted in one linear pass that ends at the
    first past ``stop_above``: a line of thousands of fields costs no more than one just over the cap."""
    members = 0
    for _ in _outside_strings(text, _JSON_MEMBER_TOKENS):
        members += 1
        if members > stop_above:
            break
    return members


def _outside_strings(text: str, tokens: re.Pattern):
    """The marks ``tokens`` finds outside JSON strings (a quote toggles a string, an escape pair is skipped)."""
    in_string = False
    for token in tokens.finditer(text):
        mark = token.group()
        if mark == '"':
            in_string = not in_string
        elif not in_string and mark[0] != "\\":
            yield mark


def _number(literal: str, kind: type, max_chars: int) -> int | float:
    if len(literal) > max_chars:
        raise RejectedInput(f"JSON number of {len(literal)} characters, over ingest.max_json_number_chars="
                            f"{max_chars}")
    value = kind(literal)
    if kind is float and not math.isfinite(value):
        raise RejectedInput(f"JSON number {literal[:40]} is not finite")
    return value


def _no_constant(name: str) -> None:
    raise RejectedInput(f"JSON constant {name} is not allowed (not standard JSON)")


def _unicode_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys and string values are valid Unicode (no unpaired surrogate escapes)."""
    for key, value in pairs:
        for text in (key, value):
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as err:
                    raise RejectedInput(f"JSON string holds an unpaired surrogate escape (not valid Unicode): {err}") from None
    return dict(pairs)


def _required_text(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RejectedInput(f"missing or empty {key!r}")
    return value.strip()


def market_hint(line: bytes, cfg: IngestConfig) -> str | None:
    """The market a rejected news line names, if it can be read within the bounds (for the quarantine record)."""
    try:
        item = bounded_json(line, cfg)
    except Exception:  # a hint only: whatever went wrong is already the line's reason
        return None
    market = item.get("market") if isinstance(item, dict) else None
    return market if isinstance(market, str) and market and market.isprintable() else None
