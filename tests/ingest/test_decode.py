"""Pure decoders: every bad-input rule rejects with a reason that says what was wrong."""

from __future__ import annotations

import numpy as np
import pytest

from raw_inputs import float_wav_bytes, news_line, png_bytes, wav_bytes
from storm.config import IngestConfig
from storm.ingest.decode import (
    RejectedInput, check_size, content_hash, decode_png, decode_wav, market_and_event_of_audio, market_of_chart,
    market_hint, parse_news_line,
)

CFG = IngestConfig()


def rejection(call, *args) -> str:
    with pytest.raises(RejectedInput) as caught:
        call(*args)
    return caught.value.reason


def test_good_png_decodes_to_uint8_grayscale():
    pixels = decode_png(png_bytes(64, 64))
    assert pixels.dtype == np.uint8 and pixels.shape == (64, 64)
    assert pixels[0, 0] == 0 and pixels[0, -1] == 255


def test_colour_png_of_another_size_is_accepted_as_grayscale():
    pixels = decode_png(png_bytes(80, 60, mode="RGB"))
    assert pixels.shape == (60, 80) and pixels.dtype == np.uint8


def test_truncated_png_is_rejected_by_full_decode():
    payload = png_bytes(64, 64, noise=True)
    assert "truncated" in rejection(decode_png, payload[: len(payload) // 2])


def test_garbage_and_non_png_images_are_rejected():
    assert "corrupt" in rejection(decode_png, b"not an image at all")
    assert "corrupt" in rejection(decode_png, b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    import io

    from PIL import Image
    sink = io.BytesIO()
    Image.new("L", (8, 8)).save(sink, format="JPEG")
    assert "not a PNG" in rejection(decode_png, sink.getvalue())


def test_oversized_file_is_rejected_before_decoding():
    assert "max_file_bytes=10" in rejection(check_size, b"x" * 11, IngestConfig(max_file_bytes=10))
    check_size(b"x" * 10, IngestConfig(max_file_bytes=10))


def test_content_hash_is_sha256_of_the_bytes():
    assert content_hash(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_chart_and_audio_names_give_market_and_event_or_rejection():
    assert market_of_chart("/x/date=2024-01-02/SPX.png") == "SPX"
    assert "bad market name" in rejection(market_of_chart, "/x/date=2024-01-02/S-PX.png")
    assert market_and_event_of_audio("/x/AAA-q4call.wav") == ("AAA", "q4call")
    assert "<market>-<event>.wav" in rejection(market_and_event_of_audio, "/x/AAA.wav")


def test_good_wav_decodes_to_float32_mono_at_the_configured_rate():
    waveform = decode_wav(wav_bytes(1.0), CFG)
    assert waveform.dtype == np.float32 and waveform.shape == (16000,)
    assert 0.25 < np.abs(waveform).max() <= 0.31


def test_stereo_wav_at_another_rate_is_resampled_and_downmixed_when_allowed():
    waveform = decode_wav(wav_bytes(0.6, rate=22050, channels=2), CFG)
    assert waveform.dtype == np.float32 and waveform.shape == (9600,)
    assert 0.25 < np.abs(waveform).max() < 0.35


def test_wrong_rate_or_stereo_is_rejected_when_resampling_is_off():
    strict = IngestConfig(resample_audio=False)
    assert "22050 Hz" in rejection(decode_wav, wav_bytes(0.6, rate=22050), strict)
    assert "2 channel" in rejection(decode_wav, wav_bytes(0.6, channels=2), strict)


def test_truncated_short_non_pcm_and_unreadable_wavs_are_rejected():
    assert "truncated WAV" in rejection(decode_wav, wav_bytes(1.0)[:-2000], CFG)
    assert "shorter than ingest.audio_min_seconds" in rejection(decode_wav, wav_bytes(0.1), CFG)
    assert "non-PCM" in rejection(decode_wav, float_wav_bytes(), CFG)
    assert "unreadable WAV" in rejection(decode_wav, b"RIFF\x00\x00junk", CFG)
    assert "unreadable WAV" in rejection(decode_wav, b"", CFG)


def test_good_news_line_gives_market_date_headline():
    record = parse_news_line(news_line("AAA", " Stocks steady ", date="2024-01-02"), "2024-01-02", CFG)
    assert record == {"market": "AAA", "date": "2024-01-02", "headline": "Stocks steady"}


@pytest.mark.parametrize(
    "line, reason",
    [
        (b"{not json", "malformed JSON"),
        (b'{"market": "AAA", "headline": "caf\xe9"}', "not UTF-8"),
        (b'"just a string"', "JSON object"),
        (news_line(headline=""), "missing or empty 'headline'"),
        (b'{"headline": "no market"}', "missing or empty 'market'"),
        (news_line(date="2023-12-29"), "disagrees with its partition date=2024-01-02"),
        (news_line(headline="x" * 2001), "max_headline_chars=2000"),
        (news_line(market="A-B"), "bad market name"),
    ],
)
def test_bad_news_line_is_rejected_with_its_reason(line, reason):
    assert reason in rejection(parse_news_line, line, "2024-01-02", CFG)


def test_market_hint_reads_the_market_of_a_rejected_line_when_it_can():
    assert market_hint(news_line(market="AAA", headline="")) == "AAA"
    assert market_hint(b"{not json") is None
