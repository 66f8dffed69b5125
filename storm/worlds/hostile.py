"""Hostile raw inputs for drills and tests: a forged M4A memory bomb, a JPEG with thousands of scans.

Each passes a header check and then costs a decoder gigabytes or minutes; storm's decoder sandbox
(storm.ingest.sandbox) must quarantine them and the night go on (benchmarks/bench_hostile_night.py).
"""

from __future__ import annotations

import io
import struct

import av
import numpy as np
from PIL import Image


def m4a_bytes(seconds: float = 1.0, rate: int = 16000) -> bytes:
    """A real AAC recording in an MP4 (M4A) container, encoded with PyAV."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="ipod") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        t = np.arange(int(seconds * rate)) / rate
        frame = av.AudioFrame.from_ndarray((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[None, :],
                                           format="fltp", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return buffer.getvalue()


def forged_m4a(sample_count: int = 80_000_000) -> bytes:
    """The same 7 KB file whose sample-size box claims ``sample_count`` samples of constant size.

    FFmpeg's MP4 demuxer sizes its index from that count inside ``av.open``, before any header check of
    ours: 80 M samples took this process from 275 MiB to 1.25 GiB of RSS; the box allows ~6 GB.
    """
    data = bytearray(m4a_bytes())
    box = data.find(b"stsz")
    struct.pack_into(">I", data, box + 8, 1)  # a constant sample size: no table needed to back the count
    struct.pack_into(">I", data, box + 12, sample_count)
    return bytes(data)


def progressive_jpeg(size: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (size, size), dtype=np.uint8)).save(
        buffer, format="JPEG", progressive=True)
    return buffer.getvalue()


def jpeg_scan_bomb(scans: int = 5000) -> bytes:
    """A progressive JPEG whose last scan is repeated ``scans`` times: each one is another full decode pass."""
    data = progressive_jpeg()
    last = data.rfind(b"\xff\xda")
    end = data.rfind(b"\xff\xd9")
    return data[:last] + data[last:end] * scans + data[end:]
