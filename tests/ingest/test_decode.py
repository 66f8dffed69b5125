"""Pure decoders of charts and news: every bad-input rule rejects, before decoding, with a reason naming rule and value."""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from raw_inputs import jpeg_bytes, news_line, png_bytes
from storm.config import IngestConfig
from storm.ingest.decode import (
    RejectedInput, check_size, content_hash, decode_image, json_depth, json_members, market_and_event_of_audio,
    market_of_chart,
    market_hint, parse_news_line, suffix_of,
)

CFG = IngestConfig()


def rejection(call, *args) -> str:
    with pytest.raises(RejectedInput) as caught:
        call(*args)
    assert caught.value.reason.strip()
    return caught.value.reason


def png_claiming(width: int, height: int) -> bytes:
    """A PNG signature + IHDR declaring width x height, followed by a tiny (bogus) IDAT: a pixel bomb's header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_good_png_decodes_to_uint8_grayscale():
    pixels = decode_image(png_bytes(64, 64), ".png", CFG)
    assert pixels.dtype == np.uint8 and pixels.shape == (64, 64)
    assert pixels[0, 0] == 0 and pixels[0, -1] == 255


def test_colour_png_of_another_size_is_accepted_as_grayscale():
    pixels = decode_image(png_bytes(80, 60, mode="RGB"), ".png", CFG)
    assert pixels.shape == (60, 80) and pixels.dtype == np.uint8


def test_jpeg_chart_decodes_like_a_png():
    pixels = decode_image(jpeg_bytes(64, 48), ".jpg", CFG)
    assert pixels.shape == (48, 64) and pixels.dtype == np.uint8
    assert pixels[0, 0] < 20 and pixels[0, -1] > 235


def test_truncated_png_and_jpeg_are_rejected_by_full_decode():
    payload = png_bytes(64, 64, noise=True)
    assert "truncated" in rejection(decode_image, payload[: len(payload) // 2], ".png", CFG)
    jpeg = jpeg_bytes(256, 256)
    assert "JPEG" in rejection(decode_image, jpeg[: len(jpeg) // 3], ".jpg", CFG)


def test_garbage_html_and_wrong_format_images_are_rejected():
    assert "not a recognisable PNG" in rejection(decode_image, b"not an image at all", ".png", CFG)
    assert "PNG" in rejection(decode_image, b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, ".png", CFG)
    assert "not a recognisable PNG" in rejection(decode_image, b"<html><body>404</body></html>", ".png", CFG)
    assert "not a recognisable PNG" in rejection(decode_image, jpeg_bytes(), ".png", CFG)  # only the named format is tried
    assert "not a recognisable JPEG" in rejection(decode_image, png_bytes(), ".jpg", CFG)
    gif = io.BytesIO()
    Image.new("L", (8, 8)).save(gif, format="GIF")
    assert "not a recognisable PNG" in rejection(decode_image, gif.getvalue(), ".png", CFG)


def test_pixel_bomb_is_refused_from_its_header_without_decoding():
    bomb = rejection(decode_image, png_claiming(20000, 20000), ".png", CFG)
    assert "pixel bomb refused before decoding" in bomb and "400000000 pixels" in bomb and "max_image_pixels" in bomb
    # between Pillow's own warning (89 M) and error (179 M) thresholds: still refused by our bound
    assert "max_image_pixels" in rejection(decode_image, png_claiming(10000, 10000), ".png", CFG)
    assert "max_image_pixels=100" in rejection(decode_image, png_bytes(11, 10), ".png", IngestConfig(max_image_pixels=100))


def test_oversized_object_is_rejected_from_its_listed_size():
    assert "object is 11 bytes, over ingest.max_file_bytes=10" in rejection(check_size, 11, IngestConfig(max_file_bytes=10))
    check_size(10, IngestConfig(max_file_bytes=10))


def test_default_file_bound_admits_a_90_minute_16khz_flac():
    ninety_minute_flac = 90 * 60 * 16000 * 2 * 0.65  # 16-bit mono; speech FLAC compresses to ~55-65 %
    assert IngestConfig().max_file_bytes > 2 * ninety_minute_flac


def test_suffix_must_be_one_the_modality_accepts():
    assert suffix_of("/x/AAA.JPEG", (".png", ".jpg", ".jpeg")) == ".jpeg"
    assert "expected a .png / .jpg file" in rejection(suffix_of, "/x/AAA.gif", (".png", ".jpg"))


def test_content_hash_is_sha256_of_the_bytes():
    assert content_hash(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_chart_and_audio_names_give_market_and_event_or_rejection():
    assert market_of_chart("/x/date=2024-01-02/SPX.png") == "SPX"
    assert market_of_chart("/x/date=2024-01-02/SPX.jpeg") == "SPX"
    assert "bad market name" in rejection(market_of_chart, "/x/date=2024-01-02/S-PX.png")
    for suffix in (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac"):
        assert market_and_event_of_audio(f"/x/AAA-q4call{suffix}") == ("AAA", "q4call")
    assert "<market>-<event>.<wav|mp3|flac|ogg|m4a|aac>" in rejection(market_and_event_of_audio, "/x/AAA.mp3")
    assert "bad market name" in rejection(market_and_event_of_audio, "/x/A B-call.wav")


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
        (news_line(market="../../etc"), "bad market name"),
        (b"[" * 100_000 + b"]" * 100_000, "line is 200000 bytes, over ingest.max_news_line_bytes=65536"),
        (b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}", "JSON nests deeper than ingest.max_json_depth=16 levels"),
        (b"x", "a news line is one JSON object, and this one does not start with '{'"),
        (b'{"market": "AAA", "headline": "x", "n": ' + b"9" * 5000 + b"}", "JSON number of 5000 characters"),
        (b'{"market": "AAA", "headline": "x", "n": 1e999}', "JSON number 1e999 is not finite"),
        (b'{"market": "AAA", "headline": "x", "n": NaN}', "JSON constant NaN"),
        (b'{"market": "AAA", "headline": "bad \\ud800 surrogate"}', "unpaired surrogate"),
        (news_line(headline="y" * 2_000_000), "over ingest.max_news_line_bytes"),
    ],
)
def test_bad_news_line_is_rejected_with_its_reason(line, reason):
    assert reason in rejection(parse_news_line, line, "2024-01-02", CFG)


def test_json_depth_ignores_brackets_inside_strings():
    assert json_depth(json.dumps({"a": [1, {"b": "[[[{{{"}]})) == 3
    assert json_depth('"\\"[[["') == 0
    assert json_depth('[["\\\\"]]') == 2  # an escaped backslash ends the string


def test_json_depth_stops_at_the_first_bracket_past_the_limit():
    assert json_depth("[" * 5000 + "]" * 5000) == 5000
    assert json_depth("[" * 5000 + "]" * 5000, stop_above=16) == 17
    assert json_depth("[[]]", stop_above=16) == 2


def test_json_depth_scans_a_flood_of_escaped_quotes_in_one_pass():
    """A backtracking string regex took 12 s on this 40 kB line (quadratic); the token scan is linear."""
    assert json_depth('"' + '\\"' * 20000) == 0
    line = b'{"market": "AAA", "headline": "' + b'\\"' * 20000 + b'"}'
    assert "headline has 20000 characters" in rejection(parse_news_line, line, "2024-01-02", CFG)


def test_a_news_line_of_thousands_of_fields_is_rejected_before_it_is_parsed():
    wide = json.dumps({"market": "AAA", "headline": "Shares fall", **{f"f{i}": i for i in range(4000)}}).encode()
    assert len(wide) < CFG.max_news_line_bytes  # within the line-length cap: the field count must catch it
    assert "max_json_members=256" in rejection(parse_news_line, wide, "2024-01-02", CFG)
    colons_in_text = json.dumps({"market": "AAA", "headline": "At 10:30: " + ":" * 500}).encode()
    assert parse_news_line(colons_in_text, "2024-01-02", CFG)["headline"].startswith("At 10:30")  # colons of a string
    assert json_members('{"a": {"b": 1, "c": "x:y"}, "d": [1, 2]}', stop_above=100) == 4
    assert json_members("{" + ", ".join(f'"k{i}": {i}' for i in range(5000)) + "}", stop_above=256) == 257


def test_market_hint_reads_the_market_of_a_rejected_line_when_it_can():
    assert market_hint(news_line(market="AAA", headline=""), CFG) == "AAA"
    assert market_hint(b"{not json", CFG) is None
    assert market_hint(b"[" * 5000, CFG) is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=12).filter(lambda b: b"\n" not in b), max_size=12), st.booleans(),
       st.integers(1, 9), st.integers(1, 10))
def test_streamed_lines_are_the_files_lines_and_an_overlong_one_comes_as_its_length(pieces, trailing_newline,
                                                                                      chunk_bytes, max_line_bytes):
    """Whatever the chunking, bounded_lines numbers and returns exactly the lines of split(b"\\n"); a line over the
    bound comes as its length; the digest is the whole file's."""
    import hashlib
    import io

    from storm.ingest.decode import bounded_lines

    payload = b"\n".join(pieces) + (b"\n" if trailing_newline and pieces else b"")
    expected = payload.split(b"\n")
    if expected and expected[-1] == b"":
        expected = expected[:-1]  # a final newline ends the last line; it starts none
    expected = [(n, line if len(line) <= max_line_bytes else len(line)) for n, line in enumerate(expected, start=1)
                if line]  # empty lines may or may not be yielded: both readers skip blank lines
    digest = hashlib.sha256()
    streamed = [(n, line) for n, line in bounded_lines(io.BytesIO(payload), max_line_bytes, digest,
                                                       chunk_bytes=chunk_bytes) if line]
    assert streamed == expected
    assert digest.hexdigest() == hashlib.sha256(payload).hexdigest()


def test_a_file_that_grew_past_the_limit_while_read_is_refused():
    import io

    from storm.ingest.decode import bounded_lines

    with pytest.raises(RejectedInput, match="grew past"):
        list(bounded_lines(io.BytesIO(b"a\n" * 100), 64, max_total_bytes=150, chunk_bytes=16))
