"""storm import calls: MAEC-layout per-sentence tables and recordings with a mapping table, into the raw layout."""

import csv
import gzip
import io
import json
import math
import re
import wave

import numpy as np
import pyarrow.parquet as pq
import pytest

from storm.schema import PRAAT_COLUMNS
from storm.importing.calls import CallImport, RecordingImport, import_call_tables, import_recordings, parse_praat
from storm.store import Layout, open_store
from storm.config import StorageConfig

HEADER = ["call_id", "date", "ticker", "sent_idx", "text", *PRAAT_COLUMNS]


def praat_row(value: str = "1.5") -> list[str]:
    return [value] * len(PRAAT_COLUMNS)


def write_maec(path, rows) -> None:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)


@pytest.fixture
def layout(tmp_path) -> Layout:
    return Layout(open_store(StorageConfig(root=str(tmp_path / "store"))))


def read_call(layout: Layout, date: str, market: str, event: str):
    return pq.read_table(layout.call_table(date, market, event)).to_pandas()


def test_undefined_praat_values_are_missing_never_zero(tmp_path, layout):
    values = praat_row("2.0")
    values[0], values[1], values[2] = "--undefined--", "--undefined-", ""
    write_maec(tmp_path / "calls.csv.gz", [["20150225_LMAT", "2015-02-25", "LMAT", "0", "Thank you.", *values]])
    report = import_call_tables([tmp_path / "calls.csv.gz"], CallImport(name="maec"), layout.store, layout)
    table = read_call(layout, "2015-02-25", "LMAT", "20150225_LMAT")
    assert report.rejected == 0 and report.counts["undefined_values"] == 3
    assert all(math.isnan(table.at[0, name]) for name in PRAAT_COLUMNS[:3])
    assert (table.loc[0, list(PRAAT_COLUMNS[3:])] == 2.0).all()
    numbers, bad = parse_praat(__import__("pandas").Series(["--undefined--", "0", "abc", "inf"]))
    assert math.isnan(numbers[0]) and numbers[1] == 0.0 and bad.tolist() == [False, False, True, True]


def test_bad_rows_are_quarantined_with_file_line_and_reason_while_good_rows_import(tmp_path, layout):
    source = tmp_path / "calls.csv"
    write_maec(source, [
        ["c1", "2015-03-02", "BF-B", "0", "Good morning.", *praat_row()],
        ["c1", "2015-03-02", "BF-B", "1", "Revenue fell.", *praat_row("oops")],      # line 3: not a number
        ["c1", "2015-02-30", "BF-B", "2", "Bad date.", *praat_row()],                # line 4: no such day
        ["c1", "2015-03-02", "BF-B", "x", "Bad index.", *praat_row()],               # line 5
        ["c1", "2015-03-02", "BF-B", "3", "Margins held.", *praat_row("inf")],       # line 6: not finite
        ["c1", "2015-03-02", "BF-B", "4", "Thank you.", *praat_row()],
    ])
    report = import_call_tables([source], CallImport(name="maec"), layout.store, layout)
    quarantined = [json.loads(line) for line in layout.store.read_text(layout.import_quarantine("calls", "maec")).splitlines()]
    assert [(r["source_path"], r["line"]) for r in quarantined] == [(str(source), n) for n in (3, 4, 5, 6)]
    reasons = [r["reason"] for r in quarantined]
    assert "'oops'" in reasons[0] and "bad date" in reasons[1] and "bad sent_idx" in reasons[2] and "'inf'" in reasons[3]
    table = read_call(layout, "2015-03-02", "BF_B", "c1")  # BF-B: '-' separates the event, so the market is BF_B
    assert table["sent_idx"].tolist() == [0, 4] and report.counts["sentences_written"] == 2
    manifest = json.loads(layout.store.read_text(layout.import_manifest("calls", "maec")))
    assert manifest["markets"] == {"BF_B": "BF-B"} and manifest["rejected"] == 4


def test_a_rerun_writes_byte_identical_objects(tmp_path, layout):
    source = tmp_path / "calls.csv"
    write_maec(source, [[f"c{i % 2}", "2015-03-02", "AAA", str(i), f"Sentence {i}.", *praat_row(str(i + 0.25))]
                        for i in range(6)] + [["c0", "2015-03-02", "AAA", "0", "Sentence 0.", *praat_row("0.25")]])
    first = import_call_tables([source], CallImport(name="maec"), layout.store, layout)
    before = {path: layout.store.read_bytes(path) for path in layout.store.list_files(layout.store.path(""))}
    import_call_tables([source], CallImport(name="maec"), layout.store, layout)
    after = {path: layout.store.read_bytes(path) for path in layout.store.list_files(layout.store.path(""))}
    assert before == after and first.counts["calls_written"] == 2 and first.counts["duplicate_rows_dropped"] == 1


def test_tickers_filter_keeps_only_the_named_calls(tmp_path, layout):
    source = tmp_path / "calls.csv"
    write_maec(source, [["a", "2015-03-02", "AAA", "0", "x", *praat_row()], ["b", "2015-03-02", "BBB", "0", "y", *praat_row()]])
    report = import_call_tables([source], CallImport(name="maec", tickers=frozenset({"BBB"})), layout.store, layout)
    assert report.counts["filtered_out"] == 1 and report.objects == [layout.call_table("2015-03-02", "BBB", "b")]


def wav_bytes(signal: np.ndarray, rate: int = 16000) -> bytes:
    """16-bit mono WAV of a float signal in [-1, 1]."""
    sink = io.BytesIO()
    with wave.open(sink, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes((signal * 32767).astype("<i2").tobytes())
    return sink.getvalue()


def tone_wav(seconds: float = 1.0) -> bytes:
    t = np.arange(int(16000 * seconds)) / 16000
    return wav_bytes(0.3 * np.sin(2 * np.pi * 220 * t))


def test_recordings_are_copied_with_their_transcript_and_bad_rows_rejected(tmp_path, layout):
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "q4 call.wav").write_bytes(tone_wav())
    (folder / "q4.txt").write_text("Good morning.\n\nRevenue fell.\n")
    (folder / "notes.pdf").write_bytes(b"%PDF")
    with open(folder / "mapping.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["file", "ticker", "date", "transcript"],
                                      ["q4 call.wav", "^GSPC", "2016-01-05", "q4.txt"],
                                      ["notes.pdf", "AAA", "2016-01-05", ""],
                                      ["../escape.wav", "AAA", "2016-01-05", ""]])
    spec = RecordingImport(folder=folder, mapping=folder / "mapping.csv", name="rec")
    report = import_recordings(spec, layout.store, layout)
    assert layout.store.read_bytes(layout.audio("2016-01-05", "IDX_GSPC", "q4_call")) == tone_wav()
    table = read_call(layout, "2016-01-05", "IDX_GSPC", "q4_call")
    assert table["text"].tolist() == ["Good morning.", "Revenue fell."] and table[list(PRAAT_COLUMNS)].isna().all().all()
    assert report.rejected == 2 and [r.line for r in report.rejects] == [3, 4]


def test_a_recording_imported_with_voice_gives_a_call_table_of_its_sentences_on_the_maec_scale(tmp_path, layout):
    pytest.importorskip("parselmouth")
    t = np.arange(int(16000 * 1.5)) / 16000
    buzz = sum(np.sin(2 * np.pi * k * 140 * t) / k for k in range(1, 6)) * 0.2
    gap = np.zeros(16000 // 2)
    signal = np.concatenate([buzz, gap, buzz, gap, buzz])
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "call.wav").write_bytes(wav_bytes(signal))
    (folder / "mapping.csv").write_text("file,ticker,date\ncall.wav,AAA,2016-01-05\n")
    report = import_recordings(RecordingImport(folder=folder, mapping=folder / "mapping.csv", voice=True),
                               layout.store, layout)
    table = read_call(layout, "2016-01-05", "AAA", "call")
    assert report.counts["voiced_sentences"] == 3 and len(table) == 3 and table["text"].isna().all()
    assert np.allclose(table["Mean pitch"], 140, atol=5)


def test_a_recording_and_a_maec_table_of_its_features_give_one_scale_and_undefined_stays_missing(tmp_path, layout):
    """The two ways a user brings a call land on one scale: voice computed from the recording, and a vendor's MAEC
    table of the same speech (values as Praat prints them, 6 significant digits; `--undefined--` where Praat had
    none). Tolerance: every value within 1e-5 relative, the call vectors the model reads within 1e-4."""
    pytest.importorskip("parselmouth")
    import soundfile

    from storm.features.calls import call_vector
    from storm.worlds.speech import SpeechScript, synthesize

    lines = ["Good morning and welcome to the call.", "Revenue fell in every region this quarter.",
             "We are withdrawing our guidance for the year."]
    pause = np.zeros(int(0.6 * 16000), np.float32)
    speech = np.concatenate([part for line in lines for part in (synthesize(SpeechScript((line,), 150, 45, 2), 16000),
                                                                  pause)])
    folder = tmp_path / "recordings"
    folder.mkdir()
    soundfile.write(folder / "call.flac", speech, 16000, subtype="PCM_16")
    (folder / "mapping.csv").write_text("file,ticker,date\ncall.flac,AAA,2016-01-05\n")
    import_recordings(RecordingImport(folder=folder, mapping=folder / "mapping.csv", voice=True), layout.store, layout)
    heard = read_call(layout, "2016-01-05", "AAA", "call")[list(PRAAT_COLUMNS)].to_numpy(float).copy()
    assert len(heard) == len(lines)  # one sentence per line, cut at the pauses
    heard[0, PRAAT_COLUMNS.index("Degree of voice breaks")] = np.nan  # as a vendor's report leaves a value undefined

    def printed(value: float) -> str:
        return "--undefined--" if math.isnan(value) else f"{value:.6g}"

    write_maec(tmp_path / "vendor.csv", [["20160105_AAA", "2016-01-05", "AAA", str(i), "", *map(printed, row)]
                                         for i, row in enumerate(heard)])
    report = import_call_tables([tmp_path / "vendor.csv"], CallImport(name="vendor"), layout.store, layout)
    bought = read_call(layout, "2016-01-05", "AAA", "20160105_AAA")[list(PRAAT_COLUMNS)].to_numpy(float)
    assert report.rejected == 0 and report.counts["undefined_values"] == int(np.isnan(heard).sum()) >= 1
    np.testing.assert_array_equal(np.isnan(bought), np.isnan(heard))  # undefined stays missing, never 0
    np.testing.assert_allclose(bought, heard, rtol=1e-5, equal_nan=True)
    no_text = np.zeros((0, 8), np.float32)
    np.testing.assert_allclose(call_vector(bought, no_text, 0, 8), call_vector(heard, no_text, 0, 8), atol=1e-4)


def test_a_timed_transcript_cuts_the_sentences_where_it_says_and_bad_times_are_rejected(tmp_path, layout):
    """Three voiced stretches 0.1 s apart: too close for pause segmentation (one sentence), but the transcript's
    times cut three, each paired with its words; a sentence timed past the recording's end is undefined, not 0.
    Without times, the one stretch is shared by the sentences in proportion to their length."""
    pytest.importorskip("parselmouth")
    rate = 16000
    t = np.arange(int(rate * 1.2)) / rate
    signal = np.concatenate([part for pitch in (120, 160, 200) for part in
                             (sum(np.sin(2 * np.pi * k * pitch * t) / k for k in range(1, 5)) * 0.2,
                              np.zeros(rate // 10))])
    folder = tmp_path / "recordings"
    folder.mkdir()
    for name in ("call", "untimed", "bad"):
        (folder / f"{name}.wav").write_bytes(wav_bytes(signal, rate))
    (folder / "call.txt").write_text("0.0\t1.2\tGood morning.\n1.3\t2.5\tRevenue fell.\n2.6\t3.8\tWe cut costs.\n"
                                     "9.0\t10.0\tOperator?\n")
    (folder / "untimed.txt").write_text("Good morning.\nRevenue fell.\nWe cut costs.\n")
    (folder / "bad.txt").write_text("0.0\t1.2\tGood morning.\n1.0\t2.5\tRevenue fell.\n")
    (folder / "mapping.csv").write_text("file,ticker,date,transcript\ncall.wav,AAA,2016-01-05,call.txt\n"
                                        "untimed.wav,AAA,2016-01-05,untimed.txt\nbad.wav,AAA,2016-01-05,bad.txt\n")
    report = import_recordings(RecordingImport(folder=folder, mapping=folder / "mapping.csv", voice=True),
                               layout.store, layout)
    timed = read_call(layout, "2016-01-05", "AAA", "call")
    assert timed["text"].tolist() == ["Good morning.", "Revenue fell.", "We cut costs.", "Operator?"]
    assert np.allclose(timed["Mean pitch"][:3], [120, 160, 200], atol=6)
    assert np.allclose(timed["Audio Length"][:3], 1.2, atol=0.01)
    assert timed.iloc[3][list(PRAAT_COLUMNS)].isna().all()  # past the end: undefined, never 0
    untimed = read_call(layout, "2016-01-05", "AAA", "untimed")  # no pause Praat hears: cut by length, in thirds
    assert untimed["text"].tolist() == ["Good morning.", "Revenue fell.", "We cut costs."]
    assert np.allclose(untimed["Audio Length"], 3.8 / 3, atol=0.01)
    assert np.allclose(untimed["Mean pitch"], [120, 160, 200], atol=12)
    assert [(r.line, r.reason) for r in report.rejects] == [
        (4, "transcript 'bad.txt': sentence 2: starts at 1.0 s, before the previous sentence ends")]


def test_a_call_dated_outside_the_stored_range_is_quarantined_and_the_others_import(tmp_path, layout):
    source = tmp_path / "calls.csv"
    write_maec(source, [
        ["c1", "2015-03-02", "AAPL", "0", "Good morning.", *praat_row()],
        ["c2", "9999-12-31", "AAPL", "0", "From the far future.", *praat_row()],   # line 3
        ["c3", "1850-01-01", "AAPL", "0", "From the far past.", *praat_row()],     # line 4
    ])
    report = import_call_tables([source], CallImport(name="maec"), layout.store, layout)
    assert report.counts["calls_written"] == 1 and report.rejects_by_reason["date outside the stored range"] == 2
    assert [r.line for r in report.rejects] == [3, 4]


def test_a_call_import_named_with_a_slash_is_refused_before_anything_is_written(tmp_path, layout):
    source = tmp_path / "calls.csv"
    write_maec(source, [["c1", "2015-03-02", "AAPL", "0", "Good morning.", *praat_row()]])
    with pytest.raises(ValueError, match="import name '../evil' is not allowed"):
        import_call_tables([source], CallImport(name="../evil"), layout.store, layout)
    assert not (tmp_path / "store").exists() or not [p for p in (tmp_path / "store").rglob("*") if p.is_file()]


def test_a_call_table_saved_with_a_utf8_byte_order_mark_imports(tmp_path, layout):
    source = tmp_path / "calls.csv"
    write_maec(source, [["c1", "2015-03-02", "AAPL", "0", "Good morning.", *praat_row()]])
    source.write_bytes(b"\xef\xbb\xbf" + source.read_bytes())
    report = import_call_tables([source], CallImport(name="maec"), layout.store, layout)
    assert report.counts["calls_written"] == 1 and report.rejected == 0
    assert read_call(layout, "2015-03-02", "AAPL", "c1")["text"].tolist() == ["Good morning."]  # call_id was read


def test_calls_of_markets_without_prices_and_after_their_last_price_day_are_counted_and_named(tmp_path, layout):
    """Issue 39: 3 tickers had calls but no prices and 146 calls were dated after the last price day; both imports
    wrote them silently. The cross-check names them from the written keys and the prices' footers."""
    import pandas as pd

    from storm.importing.crosscheck import cross_check

    days = pd.bdate_range("2015-02-02", periods=20).strftime("%Y-%m-%d")
    prices = pd.DataFrame({"date": days, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0})
    layout.store.write_table(layout.prices("LMAT"), prices)
    write_maec(tmp_path / "calls.csv", [
        ["c1", days[5], "LMAT", "0", "Inside the prices.", *praat_row()],
        ["c2", "2015-03-20", "LMAT", "0", "After the last price day.", *praat_row()],
        ["c3", days[5], "NOPX", "0", "A market without prices.", *praat_row()],
    ])
    report = import_call_tables([tmp_path / "calls.csv"], CallImport(name="maec"), layout.store, layout)
    lines = cross_check(report, layout.store, layout)
    assert len(lines) == 2
    assert lines[0].startswith("1 market(s) have calls but no prices") and "NOPX" in lines[0]
    assert lines[1].startswith("1 call(s) of 1 market(s) are dated after") and "LMAT" in lines[1]
    layout.store.write_table(layout.prices("NOPX"), prices.assign(date=pd.bdate_range("2015-02-02", periods=60)
                                                                    .strftime("%Y-%m-%d")[:20]))
    assert cross_check(report, layout.store, layout)[0].startswith("1 call(s)")  # NOPX priced now: only the late one


def buzz(pitch: float, seconds: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return sum(np.sin(2 * np.pi * k * pitch * t) / k for k in range(1, 5)) * 0.2


def test_an_untimed_transcript_gets_the_voice_of_its_own_sentences_though_praat_hears_more_pauses(tmp_path, layout):
    """Each sentence is spoken in two parts with a pause inside it (six voiced segments, three lines, as real calls
    give 190 segments against 57 lines): aligned by length, each sentence gets its own two parts, and its voice
    (here its pitch) is its own; the share paired is counted."""
    pytest.importorskip("parselmouth")
    pitches, halves = (120, 160, 200), (1.0, 0.6, 1.5)
    inside, between = np.zeros(int(16000 * 0.35)), np.zeros(int(16000 * 0.8))
    signal = np.concatenate([part for pitch, half in zip(pitches, halves)
                             for part in (buzz(pitch, half), inside, buzz(pitch, half), between)])
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "call.wav").write_bytes(wav_bytes(signal))
    lines = ["Revenue grew in every region we serve; margins held.",  # lengths within ~10% of the proportions
             "Costs rose a little in Asia.", "We are raising our outlook for the year and buying back more shares."]
    (folder / "call.txt").write_text("\n".join(lines) + "\n")
    (folder / "mapping.csv").write_text("file,ticker,date,transcript\ncall.wav,AAA,2016-01-05,call.txt\n")
    report = import_recordings(RecordingImport(folder=folder, mapping=folder / "mapping.csv", voice=True),
                               layout.store, layout)
    table = read_call(layout, "2016-01-05", "AAA", "call")
    assert table["text"].tolist() == lines
    assert np.allclose(table["Mean pitch"], pitches, atol=5)
    assert np.allclose(table["Audio Length"], [2 * half + 0.35 for half in halves], atol=0.05)  # both parts, whole
    assert (report.counts["transcript_sentences"], report.counts["sentences_paired_with_voice"]) == (3, 3)
    assert (report.counts["aligned_sentence_boundaries"], report.counts["aligned_boundaries_at_pauses"]) == (2, 2)


def test_a_transcript_much_longer_than_the_speech_leaves_the_sentences_it_cannot_hear_undefined(tmp_path, layout):
    pytest.importorskip("parselmouth")
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "call.wav").write_bytes(wav_bytes(buzz(150, 0.5)))
    (folder / "call.txt").write_text("A long opening sentence that took most of the little time there was.\nOk.\n")
    (folder / "mapping.csv").write_text("file,ticker,date,transcript\ncall.wav,AAA,2016-01-05,call.txt\n")
    report = import_recordings(RecordingImport(folder=folder, mapping=folder / "mapping.csv", voice=True),
                               layout.store, layout)
    table = read_call(layout, "2016-01-05", "AAA", "call")
    assert table["Audio Length"].notna().tolist() == [True, False]  # 'Ok.' is allotted 0.02 s: not heard, not 0
    assert report.counts["sentences_paired_with_voice"] == 1


def test_transcripts_anywhere_the_mapping_points_are_read_and_nothing_is_written_outside_the_store(tmp_path, layout):
    folder, elsewhere = tmp_path / "recordings", tmp_path / "transcripts"
    folder.mkdir()
    elsewhere.mkdir()
    for name in ("a.wav", "b.wav", "c.wav", "d.wav"):
        (folder / name).write_bytes(tone_wav(0.2))
    (elsewhere / "a.txt").write_text("From a sibling folder.\n")
    (elsewhere / "b.txt").write_text("From an absolute path.\n")
    (folder / "mapping.csv").write_text(
        "file,ticker,date,transcript\n"
        "a.wav,AAA,2016-01-05,../transcripts/a.txt\n"
        f"b.wav,BBB,2016-01-05,{elsewhere / 'b.txt'}\n"
        "c.wav,CCC,2016-01-05,../transcripts\n"           # a folder, not a transcript
        "d.wav,DDD,2016-01-05,../transcripts/none.txt\n")
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if "store" not in p.parts}
    report = import_recordings(RecordingImport(folder=folder, mapping=folder / "mapping.csv"), layout.store, layout)
    assert read_call(layout, "2016-01-05", "AAA", "a")["text"].tolist() == ["From a sibling folder."]
    assert read_call(layout, "2016-01-05", "BBB", "b")["text"].tolist() == ["From an absolute path."]
    assert [(r.line, r.reason.split(" (")[0]) for r in report.rejects] == [
        (4, "transcript '../transcripts' is not a file"), (5, "transcript '../transcripts/none.txt' is not a file")]
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if "store" not in p.parts} == before
    assert all(path.startswith(layout.store.path("")) for path in report.objects)


def test_default_event_names_do_not_repeat_the_ticker_the_audio_name_already_starts_with(tmp_path, layout):
    from storm.importing.calls import event_of_file

    assert event_of_file("AMZN-call", ("AMZN", "AMZN")) == "call"
    assert event_of_file("amzn_q4 2016", ("AMZN", "AMZN")) == "q4 2016"
    assert event_of_file("AMZN", ("AMZN", "AMZN")) == "call"
    assert event_of_file("^GSPC-q4", ("^GSPC", "IDX_GSPC")) == "q4"
    assert event_of_file("AMZNX-call", ("AMZN", "AMZN")) == "AMZNX-call"  # another ticker's name is kept
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "AMZN-call.wav").write_bytes(tone_wav(0.2))
    (folder / "mapping.csv").write_text("file,ticker,date\nAMZN-call.wav,AMZN,2016-01-05\n")
    report = import_recordings(RecordingImport(folder=folder, mapping=folder / "mapping.csv"), layout.store, layout)
    assert report.objects == [layout.audio("2016-01-05", "AMZN", "call")]
    assert report.objects[0].endswith("/AMZN-call.wav")


def test_the_summary_gives_a_real_rate_and_the_share_of_sentences_paired(tmp_path, layout):
    from typer.testing import CliRunner

    from storm.cli import app

    pytest.importorskip("parselmouth")
    folder = tmp_path / "recordings"
    folder.mkdir()
    signal = np.concatenate([buzz(140, 0.8), np.zeros(8000), buzz(180, 0.8)])
    (folder / "AAA-call.wav").write_bytes(wav_bytes(signal))
    (folder / "AAA.txt").write_text("First sentence here.\nSecond sentence here.\n")
    (folder / "mapping.csv").write_text("file,ticker,date,transcript\nAAA-call.wav,AAA,2016-01-05,AAA.txt\n")
    result = CliRunner().invoke(app, ["import", "calls", str(folder), "--voice", "--root", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    rate = re.search(r"([0-9.,]+) calls/s, ([0-9.,]+) sentences/s", result.output)
    assert rate and float(rate.group(1).replace(",", "")) > 0 and float(rate.group(2).replace(",", "")) > 0
    assert "words and voice paired: 2 of 2 transcript sentences (100%)" in result.output
    assert "1 of 1 sentence boundaries at a pause" in result.output


def test_a_long_call_id_of_a_long_ticker_is_imported_or_refused_as_a_row_never_an_aborted_import(tmp_path, layout):
    source = tmp_path / "calls.csv"
    ticker = "T" * 60  # the longest market name storm takes
    write_maec(source, [
        ["c" * 150, "2015-03-02", ticker, "0", "Good morning.", *praat_row()],  # was: OSError "File name too long"
        ["c2", "2015-03-02", "AAPL", "0", "Good morning.", *praat_row()],
    ])
    report = import_call_tables([source], CallImport(name="maec"), layout.store, layout)
    assert report.counts["calls_written"] + report.rejected == 2 and report.counts["calls_written"] >= 1
    written = layout.store.list_files(layout.call_tables_dir())
    assert any("AAPL" in path for path in written)
