"""Property-based fuzzing of every ingest decoder (Hypothesis): valid files mutated, header fields edited, raw bytes.

Whatever the input, a decoder returns an item within the bounds or raises
RejectedInput with a non-empty reason: never another exception, never more
than a bounded amount of memory (tracemalloc peak, which traces numpy arrays, and the growth of the peak RSS,
which also sees the C decoders' allocations).
Examples are derandomised and few, so the file runs in well under a minute.
"""

from __future__ import annotations

import json
import re
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raw_inputs import jpeg_bytes, news_line, png_bytes, recording_bytes, tone, wav_bytes
from storm.config import FeatureConfig, IngestConfig
from storm.ingest.audio import SlicePlan, decode_audio
from storm.ingest.decode import RejectedInput, decode_image, parse_news_line

CFG = IngestConfig(max_image_pixels=1_000_000)
PLAN = SlicePlan.of(FeatureConfig(), CFG)
MEMORY_BOUND = 64 * 2**20  # per decoded item; the seeds are a few kB, a healthy decode needs a few MB
RSS_BOUND = 256 * 2**20  # growth of the process's peak RSS per item: also counts C allocations (libsndfile, FFmpeg, Pillow)
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MARKET = re.compile(r"[A-Za-z0-9_.]+")


def _proc_status_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith(field + ":"))


def _reset_peak_rss() -> int:
    """Reset this process's peak RSS (Linux clear_refs) and return the current RSS."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    return _proc_status_bytes("VmRSS")


@pytest.fixture(scope="module", autouse=True)
def traced_memory():
    """tracemalloc on once for the module, its peak reset per item. Starting and stopping it per item raced with
    the native threads of the shared Ray session (CPython 3.11's tracemalloc: a SIGSEGV in traceback_new)."""
    tracemalloc.start()
    yield
    tracemalloc.stop()


def decodes_within_bounds(decode, payload: bytes):
    """The decoded item, or None for a rejection with a reason; fails on any other outcome or a memory blow-up."""
    rss_before = _reset_peak_rss()
    tracemalloc.reset_peak()
    traced_before = tracemalloc.get_traced_memory()[0]
    try:
        return decode(payload)
    except RejectedInput as rejected:
        reason = rejected.reason.strip()
        assert reason and not reason.endswith(":"), f"empty reason {rejected.reason!r} for {payload[:64]!r}"
        return None
    finally:
        peak = tracemalloc.get_traced_memory()[1] - traced_before
        assert peak < MEMORY_BOUND, f"decoding {len(payload)} bytes peaked at {peak / 2**20:.0f} MiB (traced)"
        growth = _proc_status_bytes("VmHWM") - rss_before
        assert growth < RSS_BOUND, f"decoding {len(payload)} bytes grew the peak RSS by {growth / 2**20:.0f} MiB"


@st.composite
def mutations(draw, seed: bytes, header_bytes: int = 64):
    """``seed`` with byte flips (mostly in its header), an optional insertion and an optional truncation."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 6))):
        span = min(header_bytes, len(data)) if draw(st.booleans()) else len(data)
        data[draw(st.integers(0, span - 1))] ^= draw(st.integers(1, 255))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(max_size=32))
    if draw(st.booleans()):
        del data[draw(st.integers(0, len(data))):]
    return bytes(data)


# --- news lines -------------------------------------------------------------------------------------------

def check_news(line: bytes) -> None:
    record = decodes_within_bounds(lambda payload: parse_news_line(payload, "2024-01-02", CFG), line)
    if record is not None:
        assert MARKET.fullmatch(record["market"]) and 0 < len(record["headline"]) <= CFG.max_headline_chars
        record["headline"].encode("utf-8")  # valid Unicode, storable in Arrow


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


@FUZZ
@given(st.binary(max_size=300))
def test_news_line_of_arbitrary_bytes(line):
    check_news(line)


@FUZZ
@given(mutations(news_line("AAA", "Stocks steady", date="2024-01-02")))
def test_news_line_mutations(line):
    check_news(line)


@FUZZ
@given(st.dictionaries(st.sampled_from(["market", "headline", "date", "id"]), json_values, max_size=4),
       st.integers(0, 3000))
def test_news_line_of_any_json_nested_to_any_depth(item, depth):
    check_news(("[" * depth + json.dumps(item) + "]" * depth).encode())
    check_news(json.dumps({"market": "AAA", "headline": "x", "extra": item}).encode())


@FUZZ
@given(st.text(alphabet="0123456789eE+-.", min_size=1, max_size=5000))
def test_news_line_with_any_number_literal(number):
    check_news(b'{"market": "AAA", "headline": "x", "n": ' + number.encode() + b"}")


# --- chart images -----------------------------------------------------------------------------------------

def check_image(payload: bytes, suffix: str) -> None:
    pixels = decodes_within_bounds(lambda data: decode_image(data, suffix, CFG), payload)
    if pixels is not None:
        assert pixels.dtype == np.uint8 and pixels.ndim == 2 and 0 < pixels.size <= CFG.max_image_pixels


@FUZZ
@given(st.binary(max_size=400), st.sampled_from([".png", ".jpg"]))
def test_image_of_arbitrary_bytes(payload, suffix):
    check_image(payload, suffix)


@FUZZ
@given(mutations(png_bytes(32, 32, noise=True), header_bytes=40))
def test_png_mutations(payload):
    check_image(payload, ".png")


@FUZZ
@given(mutations(jpeg_bytes(32, 24), header_bytes=200))
def test_jpeg_mutations(payload):
    check_image(payload, ".jpg")


@FUZZ
@given(st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1))
def test_png_header_claiming_any_size(width, height):
    payload = bytearray(png_bytes(16, 16))
    struct.pack_into(">II", payload, 16, width, height)  # IHDR width, height (CRC now wrong, as in a forged file)
    check_image(bytes(payload), ".png")


# --- conference audio, every format -----------------------------------------------------------------------

def check_audio(payload: bytes, suffix: str) -> None:
    windows = decodes_within_bounds(lambda data: decode_audio(data, suffix, CFG, PLAN), payload)
    if windows is not None:
        assert windows.dtype == np.float32 and windows.ndim == 2
        assert windows.shape[0] in (1, PLAN.slices) and windows.shape[1] <= PLAN.samples
        assert np.isfinite(windows).all() and np.abs(windows).max(initial=0) <= 1.0


SEEDS = {suffix: recording_bytes(suffix, tone(1.0, 16000)) for suffix in (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac")}
WAV_FIELDS = [(4, "<I"), (16, "<I"), (20, "<H"), (22, "<H"), (24, "<I"), (28, "<I"), (32, "<H"), (34, "<H"), (40, "<I")]


@pytest.mark.parametrize("suffix", sorted(SEEDS))
def test_recording_mutations_of_each_format(suffix):
    @FUZZ
    @given(mutations(SEEDS[suffix]))
    def fuzz(payload):
        check_audio(payload, suffix)

    fuzz()


@pytest.mark.parametrize("suffix", sorted(SEEDS))
def test_recording_of_arbitrary_bytes_named_as_each_format(suffix):
    @FUZZ
    @given(st.binary(max_size=300))
    def fuzz(payload):
        check_audio(payload, suffix)

    fuzz()


@FUZZ
@given(st.sampled_from(WAV_FIELDS), st.integers(0, 2**32 - 1), st.integers(44, 44 + 32000))
def test_wav_header_field_edits_and_truncation(field, value, keep):
    offset, fmt = field
    payload = bytearray(wav_bytes(1.0))
    struct.pack_into(fmt, payload, offset, value & (0xFFFF if fmt == "<H" else 0xFFFFFFFF))
    check_audio(bytes(payload[:keep]), ".wav")


@FUZZ
@given(st.integers(1, 2**32 - 1))
def test_wav_of_any_header_sample_rate(rate):
    payload = bytearray(wav_bytes(1.0))
    struct.pack_into("<II", payload, 24, rate, (rate * 2) & 0xFFFFFFFF)
    check_audio(bytes(payload), ".wav")
