"""Pure per-item validation and decoding of raw inputs: bytes in, array or record out.

No Ray and no I/O here, so every rule is unit-tested on hand-made bytes. A
decoder either returns the decoded item or raises ``RejectedInput`` whose
``reason`` says what was wrong; the readers turn that into a quarantine record.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import wave
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy.signal import resample_poly

from storm.config import IngestConfig
from storm.store.layout import Layout, check_market


class RejectedInput(ValueError):
    """A raw item that must go to quarantine; ``reason`` is the human-readable why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def content_hash(payload: bytes) -> str:
    """The sha256 hex digest that keys cached features of this exact item."""
    return hashlib.sha256(payload).hexdigest()


def check_size(payload: bytes, cfg: IngestConfig) -> None:
    """Oversized files are rejected before any decoding is attempted."""
    if len(payload) > cfg.max_file_bytes:
        raise RejectedInput(
            f"file is {len(payload)} bytes, over ingest.max_file_bytes={cfg.max_file_bytes}; not decoded"
        )


def decode_png(payload: bytes) -> np.ndarray:
    """PNG bytes -> uint8 grayscale [H, W].

    ``load()`` forces a full decode so truncated or corrupt data is caught here,
    not later in training. Colour or odd-sized charts are accepted and converted
    to 8-bit grayscale ('L'); the feature stage resizes.
    """
    try:
        with Image.open(io.BytesIO(payload)) as image:
            if image.format != "PNG":
                raise RejectedInput(f"not a PNG image (found {image.format})")
            image.load()
            return np.asarray(image.convert("L"), dtype=np.uint8)
    except RejectedInput:
        raise
    except UnidentifiedImageError:
        raise RejectedInput("corrupt PNG: not a recognisable image") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise RejectedInput(f"corrupt or truncated PNG: {err}") from None


def market_of_chart(path: str) -> str:
    """The market a chart file names (``<market>.png``), or a rejection for a bad name."""
    return _valid_market(Layout.market_of_chart(path), path)


def market_and_event_of_audio(path: str) -> tuple[str, str]:
    """``<market>-<event>.wav`` -> (market, event), or a rejection for a bad name."""
    market, event = Layout.market_and_event_of_audio(path)
    if not event:
        raise RejectedInput(f"audio file name must be <market>-<event>.wav, got {path.rsplit('/', 1)[-1]!r}")
    return _valid_market(market, path), event


def _valid_market(market: str, path: str) -> str:
    try:
        return check_market(market)
    except ValueError as err:
        raise RejectedInput(f"bad market name in file name {path.rsplit('/', 1)[-1]!r}: {err}") from None


def decode_wav(payload: bytes, cfg: IngestConfig) -> np.ndarray:
    """WAV bytes -> float32 mono waveform in [-1, 1] at ``cfg.audio_sample_rate``.

    Only integer PCM is accepted (8/16/24/32-bit); compressed or float WAVs are
    rejected. A data chunk shorter than its header declares is truncated and
    rejected. A wrong sample rate or several channels are repaired (polyphase
    resampling, channel mean) when ``cfg.resample_audio`` is True, because a
    conference recorded at 44.1 kHz stereo is still good evidence; with it
    False they are rejected so an operator can insist on the raw contract.
    """
    rate, channels, samples = _read_pcm(payload)
    if channels != 1 or rate != cfg.audio_sample_rate:
        if not cfg.resample_audio:
            raise RejectedInput(
                f"audio is {rate} Hz with {channels} channel(s), expected {cfg.audio_sample_rate} Hz mono "
                "(set ingest.resample_audio=true to resample and downmix)"
            )
        samples = samples.mean(axis=1, keepdims=True)
        samples = _resample(samples[:, 0], rate, cfg.audio_sample_rate)[:, None]
    waveform = samples[:, 0].astype(np.float32)
    seconds = len(waveform) / cfg.audio_sample_rate
    if seconds < cfg.audio_min_seconds:
        raise RejectedInput(f"audio lasts {seconds:.3f} s, shorter than ingest.audio_min_seconds={cfg.audio_min_seconds}")
    return waveform


def _read_pcm(payload: bytes) -> tuple[int, int, np.ndarray]:
    """(sample rate, channels, float64 samples [n, channels]) of a PCM WAV, or a rejection."""
    try:
        with wave.open(io.BytesIO(payload), "rb") as reader:
            rate, channels, width = reader.getframerate(), reader.getnchannels(), reader.getsampwidth()
            declared = reader.getnframes()
            frames = reader.readframes(declared)
    except wave.Error as err:
        if "unknown format" in str(err):
            raise RejectedInput(f"non-PCM WAV ({err}); only integer PCM is accepted") from None
        raise RejectedInput(f"unreadable WAV: {err}") from None
    except (EOFError, ValueError, OSError) as err:
        raise RejectedInput(f"unreadable WAV: {err or type(err).__name__}") from None
    if rate <= 0 or channels <= 0:
        raise RejectedInput(f"unreadable WAV: header says {rate} Hz, {channels} channels")
    if len(frames) < declared * width * channels:
        raise RejectedInput(
            f"truncated WAV: header declares {declared} frames, data holds {len(frames) // (width * channels)}"
        )
    return rate, channels, _pcm_to_float(frames, width).reshape(-1, channels)


def _pcm_to_float(frames: bytes, width: int) -> np.ndarray:
    if width == 1:  # 8-bit WAV is unsigned
        return (np.frombuffer(frames, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    if width == 3:
        raw = np.frombuffer(frames, dtype=np.uint8).reshape(-1, 3)
        padded = np.zeros((len(raw), 4), dtype=np.uint8)
        padded[:, 1:] = raw  # little-endian: put the 24 bits in the high bytes of an int32
        return padded.view("<i4")[:, 0].astype(np.float64) / 2.0**31
    if width in (2, 4):
        return np.frombuffer(frames, dtype=f"<i{width}").astype(np.float64) / 2.0 ** (8 * width - 1)
    raise RejectedInput(f"unsupported PCM sample width of {width} bytes")


def _resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return samples
    common = math.gcd(rate, target)
    return resample_poly(samples, target // common, rate // common)


def parse_news_line(line: bytes, partition_date: str, cfg: IngestConfig) -> dict[str, Any]:
    """One JSONL line -> {market, date, headline}, checked against the raw news contract."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RejectedInput(f"not UTF-8 text: {err}") from None
    try:
        item = json.loads(text)
    except json.JSONDecodeError as err:
        raise RejectedInput(f"malformed JSON: {err}") from None
    if not isinstance(item, dict):
        raise RejectedInput(f"a news line must be a JSON object, got {type(item).__name__}")
    market = _required_text(item, "market")
    try:
        check_market(market)
    except ValueError as err:
        raise RejectedInput(f"bad market name: {err}") from None
    headline = _required_text(item, "headline")
    if len(headline) > cfg.max_headline_chars:
        raise RejectedInput(
            f"headline has {len(headline)} characters, over ingest.max_headline_chars={cfg.max_headline_chars}"
        )
    if "date" in item and item["date"] != partition_date:
        raise RejectedInput(f"date {item['date']!r} disagrees with its partition date={partition_date}")
    return {"market": market, "date": partition_date, "headline": headline}


def _required_text(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RejectedInput(f"missing or empty {key!r}")
    return value.strip()


def market_hint(line: bytes) -> str | None:
    """The market a rejected news line names, if one can be read at all (for the quarantine record)."""
    try:
        item = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    market = item.get("market") if isinstance(item, dict) else None
    return market if isinstance(market, str) and market else None
