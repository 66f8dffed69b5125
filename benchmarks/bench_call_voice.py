"""A whole conference call heard sentence by sentence: per-sentence voice features from a long recording.

Writes a call of --minutes of espeak-ng speech (a sentence and a 0.4 s pause, repeated with its pitch varied) as a
16 kHz mono FLAC, then computes Praat's voice report for every pause-delimited sentence in a fresh process, two ways
in one run:

- storm: ``storm.features.voice.recording_voice_of`` on the file, what `storm import calls --voice` runs:
  two streaming passes (frame energies, then each sentence cut from the blocks as they pass), never the whole
  waveform;
- plain: the whole waveform read into memory (``soundfile.read``), segmented and reported in one piece.

Prints per way: wall seconds, times real time, sentences found (against repeats written), the process's peak RSS;
and the goal of the calls issue: at least 20x real time and under 256 MiB for a 90-minute call on 2 cores.

    .venv/bin/python benchmarks/bench_call_voice.py --minutes 90
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import offline, write_call

offline()
GOAL_SPEED, GOAL_RSS_MIB = 20.0, 256.0


def child(way: str, path: str) -> None:
    """Runs in its own process, so its peak RSS is this way's alone; prints one JSON line."""
    import resource

    import soundfile

    from storm.features.voice import recording_voice, recording_voice_of

    began = time.perf_counter()  # imports done: the same for both ways
    if way == "storm":
        voice = recording_voice_of(Path(path), ".flac")
    else:
        waveform, rate = soundfile.read(path, dtype="float32")
        voice = recording_voice(lambda: [waveform], rate)
    seconds = time.perf_counter() - began
    print(json.dumps({"seconds": seconds, "sentences": len(voice),
                      "undefined_share": float(np.isnan(voice).mean()) if len(voice) else 1.0,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=90.0)
    parser.add_argument("--child", nargs=2, metavar=("WAY", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)

    from storm.worlds.speech import SpeechScript, synthesize

    sentence = synthesize(SpeechScript(("Revenue grew in every region and we raise our guidance for the year.",),
                                       160, 50, 2), 16000)
    sentence = np.concatenate([sentence, np.zeros(int(0.4 * 16000), dtype=sentence.dtype)])
    with tempfile.TemporaryDirectory(prefix="storm-call-voice-") as folder:
        path = Path(folder) / "AAA-call.flac"
        repeats = write_call(path, args.minutes, 16000, 1, "FLAC", sentence)
        audio_seconds = args.minutes * 60
        print(f"{args.minutes:.0f}-minute call, 16 kHz mono FLAC, {path.stat().st_size / 1e6:.1f} MB, "
              f"{repeats} sentences written")
        results = {}
        for way in ("storm", "plain"):
            run = subprocess.run([sys.executable, __file__, "--child", way, str(path)], capture_output=True, text=True)
            if run.returncode:
                print(f"{way}: failed\n{run.stderr[-2000:]}")
                continue
            results[way] = result = json.loads(run.stdout.strip().splitlines()[-1])
            print(f"{way:5}: {result['seconds']:.1f} s = {audio_seconds / result['seconds']:.1f}x real time, "
                  f"{result['sentences']} sentences ({result['sentences'] / repeats:.2f} of those written), "
                  f"{100 * result['undefined_share']:.1f}% of values undefined, "
                  f"peak RSS {result['peak_rss_mib']:.0f} MiB")
        if "storm" in results:
            ours = results["storm"]
            speed = audio_seconds / ours["seconds"]
            print(f"goal: >= {GOAL_SPEED:.0f}x real time and < {GOAL_RSS_MIB:.0f} MiB: {speed:.1f}x, "
                  f"{ours['peak_rss_mib']:.0f} MiB -> {'met' if speed >= GOAL_SPEED and ours['peak_rss_mib'] < GOAL_RSS_MIB else 'NOT met'}")
        if len(results) == 2:
            print(f"storm vs plain: time x{results['storm']['seconds'] / results['plain']['seconds']:.2f}, "
                  f"peak RSS x{results['storm']['peak_rss_mib'] / results['plain']['peak_rss_mib']:.2f}")


if __name__ == "__main__":
    main()
