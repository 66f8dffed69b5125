"""A long conference call through the ingest decoder: file size against ingest.max_file_bytes, decode time, memory.

Writes a call of --minutes of espeak-ng speech (one sentence, pitch varied per repeat) as a 16 kHz mono 16-bit
FLAC and as a 44.1 kHz stereo MP3, written block by block so the generator stays small, then decodes each with
``decode_audio`` (the call's windows only) and prints size, seconds and the tracemalloc / RSS peaks.
The plain alternative decodes the whole waveform: a 90-minute call at 16 kHz is 346 MB of float32.

    .venv/bin/python benchmarks/bench_long_call.py --minutes 90
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

from common import write_call


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=90.0)
    args = parser.parse_args()

    from storm.config import FeatureConfig, IngestConfig
    from storm.ingest.audio import SlicePlan, decode_audio
    from storm.worlds.speech import SpeechScript, synthesize

    cfg = IngestConfig()
    plan = SlicePlan.of(FeatureConfig(), cfg)
    sentence = synthesize(SpeechScript(("Revenue grew in every region, and, uh, we raise our guidance for the year.",),
                                       160, 50, 2), 16000)
    with tempfile.TemporaryDirectory(prefix="storm-long-call-") as folder:
        for suffix, fmt, rate, channels in ((".flac", "FLAC", 16000, 1), (".mp3", "MP3", 44100, 2)):
            path = Path(folder) / f"AAA-call{suffix}"
            started = time.perf_counter()
            write_call(path, args.minutes, rate, channels, fmt, sentence)
            written = time.perf_counter() - started
            payload = path.read_bytes()
            tracemalloc.start()
            started = time.perf_counter()
            windows = decode_audio(payload, suffix, cfg, plan)
            seconds = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            whole = args.minutes * 60 * cfg.audio_sample_rate * 4
            print(f"{args.minutes:.0f}-min {rate} Hz {channels}-ch {fmt}: {len(payload) / 1e6:.1f} MB "
                  f"({len(payload) / cfg.max_file_bytes:.2f} of ingest.max_file_bytes={cfg.max_file_bytes}); "
                  f"written in {written:.1f} s; decoded to {windows.shape} in {seconds:.1f} s, "
                  f"traced peak {peak / 2**20:.1f} MiB vs {whole / 2**20:.0f} MiB for the whole waveform")
    print(f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB")


if __name__ == "__main__":
    main()
