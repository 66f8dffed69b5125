"""Hand-made raw inputs for ingest tests: PNG/JPEG (Pillow), WAVs (stdlib wave), MP3/FLAC/OGG (soundfile),
M4A/AAC (PyAV), JSONL lines, prices parquet.

Independent of storm.worlds on purpose: each bad case is written explicitly.
"""

from __future__ import annotations

import io
import json
import posixpath
import struct
import wave

import numpy as np
import pandas as pd
from PIL import Image

from storm.store import Layout

MAX_FILE_BYTES = 60_000  # small enough that a 300x300 noise PNG is oversized, big enough for the good items


def png_bytes(width: int = 64, height: int = 64, mode: str = "L", noise: bool = False) -> bytes:
    rng = np.random.default_rng(0)
    if noise:
        pixels = rng.integers(0, 256, size=(height, width), dtype=np.uint8)
    else:
        pixels = np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1))
    sink = io.BytesIO()
    Image.fromarray(pixels, mode="L").convert(mode).save(sink, format="PNG")
    return sink.getvalue()


def wav_bytes(seconds: float = 1.0, rate: int = 16000, channels: int = 1) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    sink = io.BytesIO()
    with wave.open(sink, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(np.repeat(tone[:, None], channels, axis=1).tobytes())
    return sink.getvalue()


def tone(seconds: float, rate: int, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def recording_bytes(suffix: str, samples: np.ndarray, rate: int = 16000) -> bytes:
    """float samples [n] or [n, channels] in [-1, 1] encoded as a real .wav/.flac/.ogg/.mp3 (libsndfile) or .m4a/.aac (PyAV)."""
    samples = np.asarray(samples, dtype=np.float32)
    if suffix in (".m4a", ".aac"):
        return _aac_bytes(samples, rate, "ipod" if suffix == ".m4a" else "adts")
    import soundfile

    sink = io.BytesIO()
    fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".mp3": "MP3"}[suffix]
    soundfile.write(sink, samples, rate, format=fmt, subtype="PCM_16" if fmt in ("WAV", "FLAC") else None)
    return sink.getvalue()


def _aac_bytes(samples: np.ndarray, rate: int, container: str) -> bytes:
    import av

    planar = samples[None, :] if samples.ndim == 1 else samples.T
    layout = "mono" if len(planar) == 1 else "stereo"
    sink = io.BytesIO()
    with av.open(sink, "w", format=container) as out:
        stream = out.add_stream("aac", rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planar), format="fltp", layout=layout)
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return sink.getvalue()


def jpeg_bytes(width: int = 64, height: int = 48) -> bytes:
    sink = io.BytesIO()
    Image.fromarray(np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1))).save(sink, format="JPEG")
    return sink.getvalue()


def float_wav_bytes(seconds: float = 1.0, rate: int = 16000) -> bytes:
    """A valid IEEE-float (format 3) WAV of silence."""
    data = np.zeros(int(seconds * rate), dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def wav_with_header_rate(rate: int, seconds: float = 1.0) -> bytes:
    """A good 16 kHz WAV whose header then claims ``rate`` Hz (byte rate edited to match)."""
    payload = bytearray(wav_bytes(seconds))
    struct.pack_into("<II", payload, 24, rate, (rate * 2) & 0xFFFFFFFF)
    return bytes(payload)


def news_line(market: str = "AAA", headline: str = "Stocks steady", **extra) -> bytes:
    return json.dumps({"id": "n1", "market": market, "headline": headline, "source": "wire", **extra}).encode()


def write_prices(layout: Layout, market: str, dates: list[str]) -> None:
    close = np.linspace(100, 101, len(dates))
    table = pd.DataFrame({"date": dates, "open": close, "high": close + 1, "low": close - 1, "close": close,
                          "volume": np.full(len(dates), 1e6)})
    layout.store.write_table(layout.prices(market), table)


def write_raw_file(layout: Layout, modality: str, date: str, name: str, payload: bytes) -> str:
    """A raw file by bare name, so tests can also write names the layout would refuse (bad markets)."""
    path = posixpath.join(layout.raw_partition(modality, date), name)
    layout.store.write_bytes(path, payload)
    return path


MARKETS = ("AAA", "BBB")
TRADING_DAYS = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
RANGE = ("2024-01-02", "2024-01-04")  # 2024-01-04 is a trading day with no raw files at all (an empty day)
BAD_NEWS = {  # line -> what its reason must mention
    b"{not json": "malformed JSON",
    b'{"market": "AAA", "headline": "caf\xe9 crash"}': "not UTF-8",
    b"[1, 2]": "JSON object",
    news_line(headline=""): "'headline'",
    news_line(market=" "): "'market'",
    news_line(date="2023-12-29"): "disagrees with its partition",
    news_line(headline="x" * 3000): "max_headline_chars",
    news_line(market="A-B"): "bad market name",
}
# file -> what its reason must mention
BAD_CHARTS = {"BBB.png@2024-01-02": "truncated", "BBB.png@2024-01-03": "corrupt",
              "bad-name.png@2024-01-03": "bad market name", "CCC.png@2024-01-02": "max_file_bytes",
              "notes.txt@2024-01-02": "expected a .png / .jpg / .jpeg file"}
BAD_NEWS_FILES = {"huge.jsonl@2024-01-03": "max_file_bytes"}  # rejected whole, one record
BAD_AUDIO = {"AAA-q4.wav@2024-01-03": "truncated audio", "BBB-short.wav@2024-01-03": "shorter than",
             "AAA-rate.wav@2024-01-03": "header sample rate 1 Hz", "BBB-junk.wav@2024-01-03": "not a readable WAV"}
EXPECTED_COUNTS = {
    "news": {"ok": 3, "quarantined": len(BAD_NEWS) + len(BAD_NEWS_FILES), "missing": 3},
    "charts": {"ok": 2, "quarantined": len(BAD_CHARTS), "missing": 4},
    "audio": {"ok": 2, "quarantined": len(BAD_AUDIO), "missing": 4},
    "calls": {"ok": 0, "quarantined": 0, "missing": 6},  # no per-sentence call tables in this world
    "wire": {"ok": 0, "quarantined": 0, "missing": 6},  # no market-wide feed in this world
}


def write_mixed_world(layout: Layout) -> None:
    """Good and bad items in RANGE, plus corrupt files on 2024-01-05 that partition pruning must skip."""
    for market in MARKETS:
        write_prices(layout, market, TRADING_DAYS)
    good_png, good_wav = png_bytes(), wav_bytes()
    write_raw_file(layout, "charts", "2024-01-02", "AAA.png", good_png)
    write_raw_file(layout, "charts", "2024-01-02", "BBB.png", good_png[: len(good_png) // 2])
    write_raw_file(layout, "charts", "2024-01-02", "CCC.png", png_bytes(300, 300, noise=True))
    write_raw_file(layout, "charts", "2024-01-03", "AAA.png", png_bytes(80, 60, mode="RGB"))
    write_raw_file(layout, "charts", "2024-01-03", "BBB.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    write_raw_file(layout, "charts", "2024-01-03", "bad-name.png", good_png)
    write_raw_file(layout, "audio", "2024-01-02", "AAA-call.wav", good_wav)
    write_raw_file(layout, "audio", "2024-01-02", "BBB-call.wav", wav_bytes(0.6, rate=22050, channels=2))
    write_raw_file(layout, "audio", "2024-01-03", "AAA-q4.wav", good_wav[:-2000])
    write_raw_file(layout, "audio", "2024-01-03", "BBB-short.wav", wav_bytes(0.1))
    write_raw_file(layout, "audio", "2024-01-03", "AAA-rate.wav", wav_with_header_rate(1))
    write_raw_file(layout, "audio", "2024-01-03", "BBB-junk.wav", b"RIFF\x00\x00junk")
    lines = [news_line("AAA"), b"", news_line("BBB", date="2024-01-02"), *BAD_NEWS]
    write_raw_file(layout, "news", "2024-01-02", "headlines.jsonl", b"\n".join(lines) + b"\n")
    write_raw_file(layout, "news", "2024-01-03", "wire.jsonl", news_line("AAA") + b"\n")
    write_raw_file(layout, "news", "2024-01-03", "blank.jsonl", b"\n\n")
    write_raw_file(layout, "news", "2024-01-03", "huge.jsonl", (news_line("BBB") + b"\n") * 1200)
    write_raw_file(layout, "charts", "2024-01-02", "notes.txt", b"chart notes")
    write_raw_file(layout, "news", "2024-01-05", "headlines.jsonl", b"{not json\n")
    write_raw_file(layout, "charts", "2024-01-05", "AAA.png", b"not a png")
    write_raw_file(layout, "audio", "2024-01-05", "AAA-call.wav", b"not a wav")
