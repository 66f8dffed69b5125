"""A corrupted world through `storm ingest`, on a local directory and on S3 (moto): every bad item is quarantined
with a reason naming its file, every good item (WAV, MP3, FLAC, M4A speech; PNG, JPEG charts) goes through,
exit 0, and the run's memory growth stays under a stated bound. The corpus is built here, case by case.
"""

from __future__ import annotations

import os
import re
import struct
import zlib

import numpy as np
import psutil
import yaml
from typer.testing import CliRunner

from raw_inputs import jpeg_bytes, news_line, png_bytes, recording_bytes, wav_bytes, wav_with_header_rate, write_prices, \
    write_raw_file
from storm.cli import app
from storm.config import StormConfig
from storm.features.cache import FeatureCache, feature_spec_id
from storm.features.featurize import featurize
from storm.ingest import ingest_audio, read_quarantine
from storm.store import Layout, open_store
from storm.worlds.speech import SpeechScript, require_espeak, synthesize

DAY, RANGE = "2024-01-03", ("2024-01-02", "2024-01-04")
TRADING_DAYS = ["2024-01-02", "2024-01-03", "2024-01-04"]
MAX_FILE_BYTES = 200_000
# The run's memory growth: for each process of the tree (pytest + torch + Ray driver, the shared Ray cluster's raylet
# and workers, and any worker the run starts), its peak RSS during the run minus its RSS just before. Processes the
# shared cluster kept from earlier tests count only by what they grow, so the figure does not depend on test order.
# A decoder that honoured a pixel or sample-rate bomb grows by tens of GiB; the run itself measured ~1 GiB.
RSS_GROWTH_BOUND = 2 * 2**30
SPEECH_RATE = 22050  # what espeak-ng writes


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares width x height over a tiny IDAT: a pixel bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def speech(text: str) -> np.ndarray:
    require_espeak()
    return synthesize(SpeechScript(sentences=(text,), words_per_minute=160, pitch=50, word_gap=0), SPEECH_RATE)


def broken_fmt_wav() -> bytes:
    """fmt chunk size 17 over a 16-byte body: the standard library's wave raised RuntimeError on it."""
    payload = bytearray(wav_bytes(1.0))
    struct.pack_into("<I", payload, 16, 17)
    return bytes(payload)


def build_corrupted_world(layout: Layout) -> tuple[dict[str, dict[str, str]], dict[str, set[str]]]:
    """Write the corpus; return (modality -> {bad file name: what its reason must say}, modality -> good file names)."""
    for market in ("AAA", "BBB", "CCC", "EEE", "FFF"):
        write_prices(layout, market, TRADING_DAYS)
    layout.store.write_bytes(layout.prices("DDD"), b"PAR1 this is not parquet PAR1")
    said, other = speech("Revenue grew in every region and we raise our guidance."), speech("Liquidity is tight, uh, "
                                                                                              "we are reviewing options.")
    truncated_png = png_bytes(64, 64, noise=True)
    good = {
        "charts": {"AAA.png": png_bytes(), "BBB.jpg": jpeg_bytes()},
        "audio": {"AAA-call.wav": recording_bytes(".wav", said, SPEECH_RATE),
                  "BBB-call.mp3": recording_bytes(".mp3", said, SPEECH_RATE),
                  "CCC-call.flac": recording_bytes(".flac", said, SPEECH_RATE),
                  "EEE-call.m4a": recording_bytes(".m4a", said, SPEECH_RATE),
                  "FFF-other.wav": recording_bytes(".wav", other, SPEECH_RATE)},
    }
    mp3, flac = recording_bytes(".mp3", said, SPEECH_RATE), recording_bytes(".flac", said, SPEECH_RATE)
    bad = {
        "charts": {
            "CCC.png": (b"", "not a recognisable PNG"),
            "DDD.png": (truncated_png[: len(truncated_png) // 2], "truncated PNG"),
            "EEE.png": (b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, "PNG"),
            "FFF.png": (b"<!DOCTYPE html><html><body>Not found</body></html>", "not a recognisable PNG"),
            "GGG.png": (png_claiming(20000, 20000), "pixel bomb refused before decoding"),
            "HHH.jpg": (jpeg_bytes(256, 256)[:300], "corrupt or truncated JPEG"),
            "III.png": (png_bytes(600, 600, noise=True), f"over ingest.max_file_bytes={MAX_FILE_BYTES}; not read"),
            "JJJ.gif": (b"GIF89a", "expected a .png / .jpg / .jpeg file"),
        },
        "audio": {
            "AAA-fmt17.wav": (broken_fmt_wav(), "not a readable WAV file (Error in WAV file. No 'data' chunk marker"),
            "AAA-cut.wav": (wav_bytes(2.0)[:-4000], "truncated audio"),
            "BBB-billions.wav": (wav_with_header_rate(2_147_483_647), "header sample rate 2147483647 Hz is outside"),
            "BBB-onehz.wav": (wav_with_header_rate(1), "header sample rate 1 Hz is outside"),
            "CCC-header.wav": (wav_bytes(1.0)[:44], "the data chunk declares 32000 bytes, the file holds 0"),
            "CCC-empty.wav": (b"", "not a readable WAV file (Format not recognised"),
            "EEE-cut.mp3": (mp3[: len(mp3) // 2], "truncated audio"),
            "EEE-cut.flac": (flac[: len(flac) // 2], "corrupt .flac audio stream"),
            "FFF-junk.ogg": (os.urandom(3000), "not a readable OGG"),
            "FFF-page.aac": (b"<html>moved</html>", "not a readable AAC file"),
            "GGG-long.wav": (wav_bytes(8.0), f"over ingest.max_file_bytes={MAX_FILE_BYTES}; not read"),
            "AAA.wav": (wav_bytes(1.0), "<market>-<event>"),
        },
    }
    bad_lines = {
        b"{not json": "malformed JSON",
        b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}": "JSON nests deeper than ingest.max_json_depth=16",
        b"[" * 5000 + b"]" * 5000: "is one JSON object, and this one does not start with '{'",
        news_line(headline="h" * 100_000): "over ingest.max_news_line_bytes=65536",
        b'{"market": "AAA", "headline": "caf\xe9 crash"}': "not UTF-8",
        news_line(market="../../etc"): "bad market name",
        b'{"market": "AAA", "headline": "\\udc80 lone"}': "unpaired surrogate",
        b'{"market": "AAA", "headline": "x", "n": ' + b"7" * 4000 + b"}": "JSON number of 4000 characters",
        b'{"market": "AAA", "headline": "x", "n": NaN}': "JSON constant NaN",
    }
    lines = [news_line("AAA", "Stocks steady"), *bad_lines, news_line("BBB", "Yields fall")]
    good["news"] = {"headlines.jsonl"}
    write_raw_file(layout, "news", DAY, "headlines.jsonl", b"\n".join(lines) + b"\n")
    write_raw_file(layout, "news", DAY, "huge.jsonl", news_line("AAA", "y" * 2_000_000) + b"\n")
    bad["news"] = {f"headlines.jsonl line {number}": (None, reason)
                   for number, reason in enumerate(bad_lines.values(), start=2)}
    bad["news"]["huge.jsonl"] = (None, f"over ingest.max_file_bytes={MAX_FILE_BYTES}; not read")
    for modality in ("charts", "audio"):
        for name, payload in {**good[modality], **{n: p for n, (p, _) in bad[modality].items()}}.items():
            write_raw_file(layout, modality, DAY, name, payload)
    expected = {modality: {name: reason for name, (_, reason) in cases.items()} for modality, cases in bad.items()}
    expected["prices"] = {"DDD.parquet": "is not readable parquet"}
    return expected, {modality: set(names) for modality, names in good.items()}


def quarantine_by_name(layout: Layout, modality: str) -> dict[str, str]:
    """'<file name>' (or '<file> line N') -> reason, over the whole range."""
    found = {}
    for date in TRADING_DAYS:
        for record in read_quarantine(layout.store, layout, modality, date):
            assert record["reason"].strip() and record["stage"] == "ingest"
            name = record["source_path"].rsplit("/", 1)[-1]
            key = record["reason"].split(":", 1)[0] if modality == "news" else name
            assert key not in found
            found[key] = record["reason"]
    return found


def process_tree() -> list[psutil.Process]:
    """This process and every process it started (the Ray cluster's raylet, workers, ...)."""
    me = psutil.Process()
    return [me, *me.children(recursive=True)]


def status_bytes(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            return next(int(line.split()[1]) * 1024 for line in handle if line.startswith(f"{field}:"))
    except (OSError, StopIteration):
        return None


def reset_peak_rss(processes: list[psutil.Process]) -> dict[int, int]:
    """Reset each process's VmHWM to its current RSS; return pid -> RSS before the run."""
    before = {}
    for process in processes:
        try:
            with open(f"/proc/{process.pid}/clear_refs", "w") as handle:
                handle.write("5")  # Linux: reset VmHWM (the peak RSS) to the current RSS
        except OSError:
            continue
        rss = status_bytes(process.pid, "VmRSS")
        if rss is not None:
            before[process.pid] = rss
    return before


def rss_growth_bytes(processes: list[psutil.Process], before: dict[int, int]) -> int:
    """Sum over the tree of (peak RSS during the run - RSS before it); a process started by the run counts whole."""
    total = 0
    for process in processes:
        peak = status_bytes(process.pid, "VmHWM")
        if peak is not None:
            total += max(0, peak - before.get(process.pid, 0))
    return total


def run_storm_ingest(config: StormConfig, tmp_path) -> tuple[int, str]:
    config_file = tmp_path / "storm.yaml"
    config_file.write_text(yaml.safe_dump({"storage": {key: value for key, value in config.redacted()["storage"].items()},
                                           "ingest": {"max_file_bytes": MAX_FILE_BYTES}}))
    if config.storage.secret_access_key is not None:  # redacted() hides it; the run needs the real one
        storage = yaml.safe_load(config_file.read_text())
        storage["storage"]["access_key_id"] = config.storage.access_key_id.get_secret_value()
        storage["storage"]["secret_access_key"] = config.storage.secret_access_key.get_secret_value()
        config_file.write_text(yaml.safe_dump(storage))
    result = CliRunner().invoke(app, ["ingest", "--start", RANGE[0], "--end", RANGE[1], "--config", str(config_file)],
                                env={"COLUMNS": "200"})
    return result.exit_code, result.output


def check_corrupted_world_ingest(storage, tmp_path) -> int:
    """Run the CLI on the corrupted world; check every outcome; return the run's RSS growth (bytes)."""
    config = StormConfig(storage=storage)
    layout = Layout(open_store(config.storage))
    expected, good = build_corrupted_world(layout)
    before = reset_peak_rss(process_tree())
    exit_code, output = run_storm_ingest(config, tmp_path)
    growth = rss_growth_bytes(process_tree(), before)
    assert exit_code == 0, output

    for modality, reasons in expected.items():
        found = quarantine_by_name(layout, modality)
        assert set(found) == set(reasons), (modality, found)
        for name, must_say in reasons.items():
            assert must_say in found[name] and name in found[name].split(":")[0], (name, found[name])
    assert "prices" in output and "charts" in output
    counts = {modality: tuple(map(int, re.search(rf"{modality}\W+(\d+)\W+(\d+)\W+(\d+)", output).groups()[:2]))
              for modality in ("news", "charts", "audio", "prices")}
    assert counts == {"news": (2, len(expected["news"])), "charts": (len(good["charts"]), len(expected["charts"])),
                      "audio": (len(good["audio"]), len(expected["audio"])), "prices": (5, 1)}, output
    return growth


def featurised_conferences(config: StormConfig, layout: Layout) -> dict[str, np.ndarray]:
    """market -> cached log-mel feature of its conference, through the real ingest + featurize path."""
    ok = ingest_audio(layout.store, layout, *RANGE, config.ingest, features=config.features).ok
    cache = FeatureCache(layout.store, layout, "audio", feature_spec_id(config.features, "audio"))
    items = featurize(ok, "audio", cache, [DAY], config.features, config.ingest).items
    features = cache.load([DAY])
    return {market: features[content_hash] for market, content_hash in zip(items["market"], items["content_hash"])}


def test_corrupted_world_is_ingested_locally_with_every_bad_item_quarantined(ray_cluster, local_storage, tmp_path):
    growth = check_corrupted_world_ingest(local_storage, tmp_path)
    print(f"storm ingest of the corrupted world: RSS growth {growth / 2**30:.2f} GiB (driver + Ray processes)")
    assert growth < RSS_GROWTH_BOUND


def test_corrupted_world_is_ingested_on_s3_with_every_bad_item_quarantined(ray_cluster, s3_storage, tmp_path):
    check_corrupted_world_ingest(s3_storage, tmp_path)


def test_mp3_flac_and_m4a_conferences_are_featurised_like_the_wav(ray_cluster, local_storage):
    config = StormConfig(storage=local_storage, ingest={"max_file_bytes": MAX_FILE_BYTES})
    layout = Layout(open_store(config.storage))
    build_corrupted_world(layout)
    mels = featurised_conferences(config, layout)
    assert set(mels) == {"AAA", "BBB", "CCC", "EEE", "FFF"}  # one good conference each
    assert all(mel.shape == (64, 256) and np.isfinite(mel).all() for mel in mels.values())

    def similarity(a: str, b: str) -> float:
        return float(np.corrcoef(mels[a].ravel(), mels[b].ravel())[0, 1])

    different_speech = similarity("AAA", "FFF")
    print({encoded: round(similarity("AAA", encoded), 3) for encoded in ("BBB", "CCC", "EEE", "FFF")})
    for encoded in ("BBB", "CCC", "EEE"):  # the same speech as AAA's WAV, as MP3, FLAC, M4A
        assert similarity("AAA", encoded) > different_speech, (encoded, similarity("AAA", encoded), different_speech)
    assert similarity("AAA", "CCC") > 0.99  # FLAC is lossless
