"""Conference recordings: every format decodes to the call's windows; every bound is checked from the header first."""

from __future__ import annotations

import struct
import tracemalloc

import numpy as np
import pytest

from raw_inputs import float_wav_bytes, recording_bytes, tone, wav_bytes, wav_with_header_rate
from storm.config import FeatureConfig, IngestConfig
from storm.features.audio import audio_features, call_slices, log_mel
from storm.ingest.audio import SlicePlan, decode_audio
from storm.ingest.decode import RejectedInput

CFG = IngestConfig()
PLAN = SlicePlan.of(FeatureConfig(), CFG)  # 8 windows of 32 frames = 5120 samples at 16 kHz
FORMATS = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac")


def rejection(payload: bytes, suffix: str = ".wav", cfg: IngestConfig = CFG) -> str:
    with pytest.raises(RejectedInput) as caught:
        decode_audio(payload, suffix, cfg, PLAN)
    assert caught.value.reason.strip()
    return caught.value.reason


@pytest.mark.parametrize("suffix", FORMATS)
def test_every_recording_format_decodes_to_mono_windows_at_the_configured_rate(suffix):
    windows = decode_audio(recording_bytes(suffix, tone(6.0, 16000)), suffix, CFG, PLAN)
    assert windows.dtype == np.float32 and windows.shape == (8, 5120)
    assert 0.2 < np.abs(windows).max() < 0.4


@pytest.mark.parametrize("suffix", (".wav", ".flac", ".mp3", ".m4a"))
def test_stereo_44k_recording_is_downmixed_and_resampled(suffix):
    stereo = np.stack([tone(6.0, 44100), tone(6.0, 44100)], axis=1)
    windows = decode_audio(recording_bytes(suffix, stereo, rate=44100), suffix, CFG, PLAN)
    assert windows.shape == (8, 5120) and 0.2 < np.abs(windows).max() < 0.4
    spectrum = np.abs(np.fft.rfft(windows[3]))
    assert abs(spectrum.argmax() * 16000 / 5120 - 220) < 10  # still the 220 Hz tone after resampling


def test_wrong_rate_or_stereo_is_rejected_when_resampling_is_off():
    strict = IngestConfig(resample_audio=False)
    assert "22050 Hz" in rejection(wav_bytes(0.6, rate=22050), cfg=strict)
    assert "2 channel" in rejection(wav_bytes(0.6, channels=2), cfg=strict)


def test_windows_are_spread_over_the_whole_call_in_order():
    """A 20-minute FLAC whose pitch rises minute by minute: window i hears the pitch of its part of the call."""
    rate, minutes = 16000, 20
    pitches = np.linspace(300, 3000, minutes)
    call = np.concatenate([tone(60.0, rate, hz) for hz in pitches])
    payload = recording_bytes(".flac", call, rate)
    tracemalloc.start()
    windows = decode_audio(payload, ".flac", CFG, PLAN)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert windows.shape == (8, 5120)
    heard = [np.abs(np.fft.rfft(window)).argmax() * rate / 5120 for window in windows]
    expected = [pitches[int((i + 0.5) / 8 * minutes)] for i in range(8)]
    np.testing.assert_allclose(heard, expected, atol=10)
    assert peak < 32 * 2**20, f"decoding a 20-minute call peaked at {peak / 2**20:.0f} MiB"  # the call is 77 MB as float32
    features = audio_features(windows, rate, 64, 256)
    assert features.shape == (64, 256) and np.isfinite(features).all()
    bands = [log_mel(window, rate, 64).mean(axis=1).argmax() for window in windows]
    assert bands == sorted(bands) and bands[0] < bands[-1]


def test_decoded_windows_match_windows_cut_from_the_whole_waveform():
    call = tone(30.0, 16000, 440.0) * np.linspace(0.1, 1.0, 30 * 16000, dtype=np.float32)
    windows = decode_audio(recording_bytes(".wav", call), ".wav", CFG, PLAN)
    reference = call_slices(np.round(call * 32767) / 32767, PLAN.slices, PLAN.samples)
    np.testing.assert_allclose(windows, reference, atol=1e-4)


def test_a_call_shorter_than_one_window_is_one_short_window():
    windows = decode_audio(recording_bytes(".wav", tone(0.3, 16000)), ".wav", IngestConfig(audio_min_seconds=0.1), PLAN)
    assert windows.shape == (1, 4800)


@pytest.mark.parametrize("rate", [1, 3999, 192001, 2_147_483_647])
def test_absurd_header_sample_rate_is_rejected_before_decoding(rate):
    assert f"header sample rate {rate} Hz is outside" in rejection(wav_with_header_rate(rate))


def test_header_rate_libsndfile_reads_as_negative_is_rejected_by_libsndfile():
    assert "SF_INFO struct incomplete" in rejection(wav_with_header_rate(4_294_967_295))


def test_header_rate_of_1hz_is_not_taken_as_16000_seconds():
    assert "audio_min_header_rate" in rejection(wav_with_header_rate(1))


def test_too_many_channels_and_too_long_calls_are_rejected_from_the_header():
    payload = bytearray(wav_bytes(1.0))
    struct.pack_into("<H", payload, 22, 64)  # channels
    assert "header declares 64 channels" in rejection(bytes(payload))
    assert "over ingest.audio_max_seconds=0.8" in rejection(wav_bytes(1.0), cfg=IngestConfig(audio_max_seconds=0.8))


def test_truncated_recordings_are_rejected():
    wav = wav_bytes(1.0)
    assert "truncated audio" in rejection(wav[:-2000])
    for suffix in (".flac", ".mp3", ".m4a"):
        payload = recording_bytes(suffix, tone(6.0, 16000))
        assert rejection(payload[: len(payload) // 2], suffix)


def test_empty_header_only_short_and_garbage_recordings_have_reasons():
    wav = wav_bytes(1.0)
    assert "not a readable WAV file (Format not recognised" in rejection(b"")
    assert "truncated audio: the data chunk declares 32000 bytes, the file holds 0" in rejection(wav[:44])  # header only
    assert "shorter than ingest.audio_min_seconds" in rejection(wav_bytes(0.1))
    assert "not a readable WAV" in rejection(b"RIFF\x00\x00junk")
    assert "not a readable MP3" in rejection(b"<html>not found</html>", ".mp3")
    assert "not a readable M4A" in rejection(b"\x00" * 100, ".m4a")


def test_content_must_match_the_name():
    assert "content is FLAC, but the name says .wav" in rejection(recording_bytes(".flac", tone(1.0, 16000)), ".wav")
    assert "unsupported audio file type '.mid'" in rejection(b"MThd", ".mid")


def test_float_wav_is_a_valid_recording():
    assert decode_audio(float_wav_bytes(1.0), ".wav", CFG, PLAN).shape == (8, 5120)
