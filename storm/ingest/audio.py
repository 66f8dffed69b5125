"""Conference recordings (wav, mp3, flac, ogg via libsndfile; m4a/aac via PyAV) -> the call's slices.

The header (rate, channels, length) is checked against ``IngestConfig`` before a
sample is decoded. The stream is then decoded block by block to its end (so a
truncated or corrupt file is caught), keeping only the samples of the slices
that ``storm.features.audio`` will turn into log-mel: memory is bounded by the
slices, never by the call's length. Each slice is downmixed to mono and
resampled to ``audio_sample_rate`` on its own, with a margin that is cut off.
"""

from __future__ import annotations

import io
import math
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from storm.config import FeatureConfig, IngestConfig
from storm.ingest.errors import RejectedInput
from storm.store.layout import AUDIO_SUFFIXES

# Suffix -> the libsndfile container formats a file of that name may hold.
SOUNDFILE_FORMATS = {".wav": {"WAV", "WAVEX", "RF64", "W64"}, ".flac": {"FLAC"}, ".ogg": {"OGG"}, ".mp3": {"MP3"}}
# Suffix -> (ffmpeg demuxer forced on the bytes, codecs accepted in it).
PYAV_FORMATS = {".m4a": ("mp4", {"aac"}), ".aac": ("aac", {"aac"})}
assert set(AUDIO_SUFFIXES) == {*SOUNDFILE_FORMATS, *PYAV_FORMATS}, "the layout's audio suffixes and the decoders disagree"
BLOCK_FRAMES = 1 << 16
_TRUNCATED_DATA = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


@dataclass(frozen=True)
class AudioHeader:
    rate: int
    channels: int
    frames: int  # as declared by the header (an estimate for some MP3/AAC files)
    detail: str = ""  # decoder log that reveals a damaged header (libsndfile's "should be" lines)


HOP_SECONDS = 0.010  # the log-mel hop (storm.features.audio): a slice is a whole number of hops


def hop_samples(sample_rate: int) -> int:
    return int(round(HOP_SECONDS * sample_rate))


def slice_samples(call_mel_frames: int, call_slices: int, sample_rate: int) -> int:
    """Samples of one slice: exactly the audio its ``call_mel_frames // call_slices`` mel frames look at."""
    return max(1, call_mel_frames // call_slices) * hop_samples(sample_rate)


def slice_starts(total: int, slices: int, length: int) -> np.ndarray:
    """First sample of each of ``slices`` slices of ``length``, centred at (i + 1/2) / slices of the call.

    One slice is the centre of the call; slices overlap only when the call is
    shorter than ``slices * length``.
    """
    centres = (np.arange(slices) + 0.5) / slices * total
    return np.clip(np.rint(centres - length / 2), 0, max(total - length, 0)).astype(np.int64)


@dataclass(frozen=True)
class SlicePlan:
    """What of a call is kept: ``slices`` excerpts of ``samples`` samples at the target rate."""

    slices: int
    samples: int

    @classmethod
    def of(cls, features: FeatureConfig, ingest: IngestConfig) -> "SlicePlan":
        return cls(features.call_slices, slice_samples(features.call_mel_frames, features.call_slices,
                                                      ingest.audio_sample_rate))


def decode_audio(payload: bytes, suffix: str, cfg: IngestConfig, plan: SlicePlan) -> np.ndarray:
    """Recording bytes -> float32 mono slices [plan.slices, plan.samples] in [-1, 1] at ``cfg.audio_sample_rate``.

    A call shorter than all slices together gives overlapping slices; one
    shorter than a single slice gives [1, its length].
    """
    with open_audio(payload, suffix) as (header, blocks):
        check_header(header, cfg)
        starts, spans = _source_spans(header, plan, cfg.audio_sample_rate)
        buffers, decoded = _collect(blocks, spans, header, cfg)
    if decoded < header.frames - max(0.01 * header.frames, 4096):
        raise RejectedInput(f"truncated audio: header declares {header.frames} frames, the stream holds {decoded}")
    slices = []
    for (begin, _), start, buffer in zip(spans, starts, buffers):
        resampled = _resample(buffer.mean(axis=1), header.rate, cfg.audio_sample_rate)
        offset = round((start - begin) * cfg.audio_sample_rate / header.rate)
        slices.append(resampled[offset:offset + plan.samples])
    length = min(len(piece) for piece in slices)
    kept = np.stack([piece[:length] for piece in slices]).astype(np.float32)
    if not np.isfinite(kept).all():
        raise RejectedInput("audio holds NaN or infinite samples")
    return np.clip(kept, -1.0, 1.0)  # float recordings may overshoot; the log-mel must stay finite


def _source_spans(header: AudioHeader, plan: SlicePlan, target: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Start of each slice in source frames, and the [begin, end) span read for it (with a resampling margin)."""
    source_length = math.ceil(plan.samples * header.rate / target)
    margin = math.ceil(0.02 * header.rate) + 64  # cut off again after resampling, edge effects with it
    count = plan.slices if header.frames > source_length else 1  # as call_slices: a short call is one slice
    starts = slice_starts(header.frames, count, min(source_length, header.frames))
    return starts, [(max(0, start - margin), start + source_length + margin) for start in starts]


def check_header(header: AudioHeader, cfg: IngestConfig) -> None:
    """Every bound that can be checked before decoding: rate, channels, length, declared damage."""
    if not cfg.audio_min_header_rate <= header.rate <= cfg.audio_max_header_rate:
        raise RejectedInput(f"header sample rate {header.rate} Hz is outside ingest.audio_min_header_rate.."
                            f"audio_max_header_rate = {cfg.audio_min_header_rate}..{cfg.audio_max_header_rate} Hz")
    if not 1 <= header.channels <= cfg.audio_max_channels:
        raise RejectedInput(f"header declares {header.channels} channels, outside 1..ingest.audio_max_channels="
                            f"{cfg.audio_max_channels}")
    damaged = _TRUNCATED_DATA.search(header.detail)
    if damaged and int(damaged.group(1)) > int(damaged.group(2)):
        raise RejectedInput(f"truncated audio: the data chunk declares {damaged.group(1)} bytes, the file holds "
                            f"{damaged.group(2)}")
    seconds = header.frames / header.rate
    if seconds > cfg.audio_max_seconds:
        raise RejectedInput(f"header declares {seconds:.1f} s of audio, over ingest.audio_max_seconds={cfg.audio_max_seconds}")
    if seconds < cfg.audio_min_seconds:
        raise RejectedInput(f"audio lasts {seconds:.3f} s ({header.frames} frames at {header.rate} Hz), "
                            f"shorter than ingest.audio_min_seconds={cfg.audio_min_seconds}")
    if not cfg.resample_audio and (header.rate != cfg.audio_sample_rate or header.channels != 1):
        raise RejectedInput(f"audio is {header.rate} Hz with {header.channels} channel(s), expected "
                            f"{cfg.audio_sample_rate} Hz mono (set ingest.resample_audio=true to resample and downmix)")


def _collect(blocks: Iterator[np.ndarray], spans: list[tuple[int, int]], header: AudioHeader,
             cfg: IngestConfig) -> tuple[list[np.ndarray], int]:
    """Decode every block, copying the parts inside ``spans``; (one buffer per span, frames decoded)."""
    limit = int(cfg.audio_max_seconds * header.rate) + 1
    ends = [min(end, header.frames) for _, end in spans]
    buffers = [np.zeros((max(end - begin, 0), header.channels), dtype=np.float32) for (begin, _), end in zip(spans, ends)]
    position = 0
    for block in blocks:
        block_end = position + len(block)
        if block_end > limit:
            raise RejectedInput(f"stream holds more than ingest.audio_max_seconds={cfg.audio_max_seconds} s of audio "
                                f"though its header declares {header.frames / header.rate:.1f} s")
        for (begin, _), end, buffer in zip(spans, ends, buffers):
            low, high = max(begin, position), min(end, block_end)
            if low < high:
                buffer[low - begin:high - begin] = block[low - position:high - position]
        position = block_end
    return [buffer[:max(0, min(end, position) - begin)] for (begin, _), end, buffer in zip(spans, ends, buffers)], position


def _resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """FFT resampling of one short excerpt: cost bounded by its length whatever the two rates are."""
    if rate == target or samples.size == 0:
        return samples.astype(np.float32)
    from scipy.signal import resample  # here: a process that only reads voice never loads scipy.signal

    return resample(samples, max(1, round(samples.size * target / rate))).astype(np.float32)


@contextmanager
def open_audio(payload: bytes | Path, suffix: str):
    """(AudioHeader, iterator of float32 [n, channels] blocks) for a recording named ``*suffix``: its bytes, or the
    path of a local file (read block by block, never whole)."""
    if suffix in SOUNDFILE_FORMATS:
        with _open_soundfile(payload, suffix) as opened:
            yield opened
    elif suffix in PYAV_FORMATS:
        with _open_pyav(payload, suffix) as opened:
            yield opened
    else:
        raise RejectedInput(f"unsupported audio file type {suffix!r}; expected one of {', '.join(AUDIO_SUFFIXES)}")


@contextmanager
def _open_soundfile(payload: bytes, suffix: str):
    import soundfile

    try:
        sound = soundfile.SoundFile(_readable(payload))
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as err:
        raise RejectedInput(f"not a readable {suffix[1:].upper()} file ({_libsndfile_message(err)})") from None
    with sound:
        if sound.format not in SOUNDFILE_FORMATS[suffix]:
            raise RejectedInput(f"content is {sound.format}, but the name says {suffix}")
        header = AudioHeader(sound.samplerate, sound.channels, sound.frames, sound.extra_info)

        def blocks() -> Iterator[np.ndarray]:
            while True:
                try:
                    block = sound.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                except (soundfile.LibsndfileError, RuntimeError) as err:
                    raise RejectedInput(f"corrupt {suffix} audio stream ({_libsndfile_message(err)})") from None
                if not len(block):
                    return
                yield block

        yield header, blocks()


def _readable(payload: bytes | Path):
    """What soundfile and PyAV open: a file-like over bytes, or a local path as text."""
    return io.BytesIO(payload) if isinstance(payload, (bytes, bytearray, memoryview)) else str(payload)


def _libsndfile_message(err: Exception) -> str:
    text = str(err).split(": ", 1)[-1] if "Error opening" in str(err) else str(err)
    return text.strip() or type(err).__name__


@contextmanager
def _open_pyav(payload: bytes, suffix: str):
    import av

    demuxer, codecs = PYAV_FORMATS[suffix]
    try:
        container = av.open(_readable(payload), format=demuxer)
    except (av.FFmpegError, ValueError, OSError) as err:
        raise RejectedInput(f"not a readable {suffix[1:].upper()} file ({err or type(err).__name__})") from None
    with container:
        if not container.streams.audio:
            raise RejectedInput(f"{suffix} file holds no audio stream")
        stream = container.streams.audio[0]
        codec = stream.codec_context
        if codec.name not in codecs:
            raise RejectedInput(f"{suffix} file holds {codec.name!r} audio; accepted codecs: {sorted(codecs)}")
        rate, channels = int(codec.sample_rate or 0), int(codec.layout.nb_channels if codec.layout else 0)
        header = AudioHeader(rate, channels, _declared_frames(container, stream, rate))

        def blocks() -> Iterator[np.ndarray]:
            try:
                for frame in container.decode(stream):
                    samples = frame.to_ndarray().astype(np.float32, copy=False)  # AAC decodes to float
                    yield samples.T if frame.format.is_planar else samples.reshape(-1, channels)
            except av.FFmpegError as err:
                raise RejectedInput(f"corrupt {suffix} audio stream ({err})") from None

        yield header, blocks()


def _declared_frames(container, stream, rate: int) -> int:
    """Frames the container declares (stream duration, else container duration), 0 when it says nothing."""
    if stream.duration and stream.time_base:
        return int(stream.duration * stream.time_base * rate)
    if container.duration:
        return int(container.duration / 1_000_000 * rate)
    return 0
