"""Voice features from a recording: pauses found block by block, Praat's voice report per sentence."""

import numpy as np
import pytest

from storm.schema import PRAAT_COLUMNS
from storm.features.voice import cut_segments, recording_voice, segment_sentences

pytest.importorskip("parselmouth")
RATE = 16000


def voiced(seconds: float, pitch: float, rng) -> np.ndarray:
    """A vowel-like buzz: harmonics of a slightly wandering pitch, with a syllable envelope."""
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = pitch * (1 + 0.03 * np.sin(2 * np.pi * 3 * t))
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    wave = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.6 + 0.4 * np.abs(np.sin(2 * np.pi * 4 * t))
    return (0.2 * wave * envelope + 0.001 * rng.standard_normal(t.size)).astype(np.float32)


def call_with_pauses(sentences: int, rng) -> tuple[np.ndarray, int]:
    parts = []
    for _ in range(sentences):
        parts.append(voiced(rng.uniform(1.0, 3.0), rng.uniform(100, 180), rng))
        parts.append((0.001 * rng.standard_normal(int(rng.uniform(0.4, 1.2) * RATE))).astype(np.float32))
    return np.concatenate(parts), sentences


def blocks_of(signal: np.ndarray, size: int = 24_000):
    return lambda: (signal[i:i + size] for i in range(0, len(signal), size))


def test_segmenting_a_call_with_known_pauses_finds_its_sentences():
    rng = np.random.default_rng(3)
    signal, sentences = call_with_pauses(30, rng)
    spans = segment_sentences(blocks_of(signal)(), RATE)
    assert abs(len(spans) - sentences) <= 0.1 * sentences
    pieces = list(cut_segments(blocks_of(signal, 7_000)(), spans))  # blocks smaller than a sentence
    assert [len(p) for p in pieces] == [end - begin for begin, end in spans]
    assert np.array_equal(pieces[3], signal[spans[3][0]:spans[3][1]])


def test_voice_report_gives_the_maec_columns_on_their_scale_and_silence_or_hiss_gives_no_sentence():
    rng = np.random.default_rng(5)
    signal, _ = call_with_pauses(4, rng)
    voice = recording_voice(blocks_of(signal), RATE)
    assert voice.shape == (4, len(PRAAT_COLUMNS))
    pitch = voice[:, PRAAT_COLUMNS.index("Mean pitch")]
    assert ((pitch > 90) & (pitch < 200)).all()  # Hz, as MAEC's column
    assert (voice[:, PRAAT_COLUMNS.index("Audio Length")] > 0.9).all()
    for silence in (np.zeros(RATE * 3, dtype=np.float32), (0.001 * rng.standard_normal(RATE * 3)).astype(np.float32)):
        assert recording_voice(blocks_of(silence), RATE).shape == (0, len(PRAAT_COLUMNS))


def test_reading_a_recordings_voice_loads_neither_ray_nor_the_stores_table_libraries():
    """A 90-minute call is read in a small process (BENCHMARKS.md: under 256 MiB): the voice path must stay light."""
    import subprocess
    import sys

    probe = ("import sys; import storm.features.voice, storm.ingest.audio; "
             "print(sorted(m for m in ('ray', 'pandas', 'pyarrow', 'fsspec', 'scipy.signal', 'torch') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"


def test_a_recordings_voice_read_from_its_file_equals_the_voice_read_from_its_bytes(tmp_path):
    import soundfile

    from storm.features.voice import recording_voice_of

    rate = 16000
    t = np.arange(int(0.8 * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 140 * t) * (1 + 0.1 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    call = np.concatenate([tone, np.zeros(int(0.5 * rate), np.float32), tone])
    path = tmp_path / "call.flac"
    soundfile.write(path, call, rate, subtype="PCM_16")
    from_file, from_bytes = recording_voice_of(path, ".flac"), recording_voice_of(path.read_bytes(), ".flac")
    assert from_file.shape == (2, len(PRAAT_COLUMNS))
    np.testing.assert_array_equal(from_file, from_bytes)
