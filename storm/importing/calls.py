"""`storm import calls`: conference calls into the raw layout, from a vendor's per-sentence table or recordings.

(a) Per-sentence feature tables in the MAEC layout (``call_id, date, ticker, sent_idx, text`` and the 29 Praat
    voice-report columns; CSV, gzip'd CSV or Parquet), streamed in chunks and spooled per call on local disk,
    then written one table per call: ``raw/calls/date=D/<market>-<event>.sentences.parquet``
    (storm.ingest.calls reads them). ``--undefined--`` (or Praat's truncated ``--undefined-``) and empty cells
    are missing values, written as NaN, never 0.
(b) A folder of recordings with a mapping table (``file, ticker, date``, optional ``transcript``, ``event``):
    each recording copied to ``raw/audio/date=D/<market>-<event>.<suffix>`` (the event by default the file's name
    without a leading ticker: AMZN-call.mp3 is AMZN's "call"); a transcript (a text file wherever the table points,
    one sentence a line, optionally ``start<TAB>end<TAB>text`` in seconds) becomes a call table with the words and
    every voice feature undefined; with ``--voice`` each sentence's voice is Praat's report of the recording, cut at
    the transcript's times when it has them, else at its sentences' stretches aligned to the pauses
    (storm.features.transcript_alignment), or, without a transcript, at the pauses.

Every row that cannot be part of a call is rejected with its file, line and reason, and the rest import.
Tables are written with a fixed schema and row order, so a rerun writes byte-identical objects.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from storm.features.transcript_alignment import SentenceAlignment, align_sentences
from storm.features.voice import MAX_TIMED_SECONDS, Pauses, recording_voice_of, voiced_segments_of
from storm.printable import printable
from storm.importing.report import ImportReport
from storm.importing.rows import iter_chunks, read_columns
from storm.importing.spool import Spool
from storm.ingest.dates import DateRange
from storm.ingest.errors import RejectedInput
from storm.schema import N_PRAAT, PRAAT_COLUMNS
from storm.store import Layout, ObjectStore
from storm.store.layout import AUDIO_SUFFIXES, check_call_event, is_date

UNDEFINED = "--undefined"  # Praat writes --undefined--; MAEC also holds the truncated --undefined-
MAX_TRANSCRIPT_BYTES = 16 * 2 ** 20  # a transcript is read whole: a 90-minute call's is well under 1 MB
MIN_PAIRED_SECONDS = Pauses().min_sounding  # a sentence allotted less voiced time than a sound is not heard
_EVENT_SYMBOLS = re.compile(r"[^A-Za-z0-9_.-]+")
TABLE_SCHEMA = pa.schema([("sent_idx", pa.int64()), ("text", pa.string()),
                          *[(name, pa.float64()) for name in PRAAT_COLUMNS]])


@dataclass(frozen=True)
class CallImport:
    """What to import and how the user's columns are named."""

    name: str = "calls"                       # the import's manifest: raw/imports/calls-<name>.json
    tickers: frozenset[str] | None = None     # vendor tickers or market names to keep; None: all
    start: str | None = None
    end: str | None = None
    call_column: str = "call_id"
    date_column: str = "date"
    ticker_column: str = "ticker"
    sentence_column: str = "sent_idx"
    text_column: str = "text"
    dates: DateRange = field(default_factory=DateRange.default)  # the days a call may carry (ingest.earliest_date …)


def import_call_tables(files: list[Path], spec: CallImport, store: ObjectStore, layout: Layout) -> ImportReport:
    """Per-sentence tables -> one call table per (date, market, event); returns counts, rejects and what was written."""
    report = ImportReport(kind="calls", name=spec.name, sources=[str(f) for f in files])
    with Spool() as spool:
        for path in files:
            present = read_columns(path)
            wanted = [c for c in (spec.call_column, spec.date_column, spec.ticker_column, spec.sentence_column,
                                  spec.text_column) if c in present or c != spec.call_column]
            for chunk in iter_chunks(path, [*wanted, *PRAAT_COLUMNS]):
                report.add_rejects(chunk.rejects)
                report.counts["rows"] += chunk.read
                for record in _sentences(chunk.rows, str(path), spec, report):
                    spool.add(record["call"], record)
        for key, records in spool.groups():
            date, market, event = key.split("|")
            sentences = _unique_sentences(records, report)
            path = layout.call_table(date, market, event)
            store.write_table(path, call_table(sentences))
            report.objects.append(path)
            report.counts["calls_written"] += 1
            report.counts["sentences_written"] += len(sentences)
    report.write(store, layout)
    return report


def parse_praat(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column of Praat values -> (float64 with NaN where undefined or empty; rows that are no number at all).

    ``--undefined--`` is a missing value, never 0; ``inf`` and text are bad rows.
    """
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values.to_numpy(np.float64)
        return np.where(np.isnan(numbers), np.nan, numbers), np.isinf(numbers)
    text = values.astype("string").fillna("").str.strip()
    undefined = text.str.startswith(UNDEFINED) | (text == "")
    numbers = pd.to_numeric(text.where(~undefined), errors="coerce").to_numpy(np.float64)
    bad = (~undefined.to_numpy(bool)) & ~np.isfinite(numbers)
    return np.where(undefined.to_numpy(bool), np.nan, numbers), bad


def _sentences(rows: pd.DataFrame, source: str, spec: CallImport, report: ImportReport):
    """Good rows as spool records {call, sent_idx, text, praat, order}; bad ones rejected with their line."""
    parsed = [parse_praat(rows[name]) for name in PRAAT_COLUMNS]
    values = np.stack([numbers for numbers, _ in parsed], axis=1)
    first_bad = np.stack([bad for _, bad in parsed], axis=1)
    column = {name: rows[name].tolist() for name in (spec.ticker_column, spec.date_column, spec.sentence_column,
                                                       spec.text_column)}
    call_ids = rows[spec.call_column].tolist() if spec.call_column in rows else [None] * len(rows)
    markets = report.names
    events: dict[object, str | None] = {}
    for position, line in enumerate(rows["line"].tolist()):
        ticker = str(column[spec.ticker_column][position]).strip()
        if spec.tickers is not None and ticker not in spec.tickers and markets[ticker] not in spec.tickers:
            report.counts["filtered_out"] += 1
            continue
        raw_date = column[spec.date_column][position]
        date = str(raw_date).strip()[:10]
        if not is_date(date):
            report.reject(source, line, f"bad date ({str(raw_date)[:40]!r})")
            continue
        if not spec.dates.contains(date):
            report.reject(source, line, spec.dates.reason(date))
            continue
        if (spec.start and date < spec.start) or (spec.end and date > spec.end):
            report.counts["outside_dates"] += 1
            continue
        market = markets[ticker]
        if isinstance(market, Exception):
            report.reject(source, line, f"bad ticker ({market})")
            continue
        raw_index = column[spec.sentence_column][position]
        sentence = _sentence_number(raw_index)
        if sentence is None:
            report.reject(source, line, f"bad {spec.sentence_column} ({str(raw_index)[:40]!r}): expected a whole number >= 0")
            continue
        if first_bad[position].any():
            name = PRAAT_COLUMNS[int(np.argmax(first_bad[position]))]
            report.reject(source, line, f"column {name!r} holds {str(rows[name].iloc[position])[:40]!r}: "
                                        "not a number or --undefined--")
            continue
        call_id = call_ids[position]
        if call_id not in events:
            events[call_id] = _event(call_id)
        if events[call_id] is None:
            report.reject(source, line, f"bad {spec.call_column} ({str(call_id)[:40]!r})")
            continue
        praat = [None if value != value else value for value in values[position].tolist()]  # NaN -> None
        report.counts["undefined_values"] += sum(value is None for value in praat)
        text = column[spec.text_column][position]
        text = None if text is None or (isinstance(text, float) and math.isnan(text)) else printable(str(text))
        text = text if text and text.strip() else None
        report.markets.setdefault(market, ticker)
        yield {"call": f"{date}|{market}|{events[call_id]}", "sent_idx": sentence, "text": text, "praat": praat,
               "order": [source, int(line)]}


def _sentence_number(value) -> int | None:
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if math.isfinite(number) and number >= 0 and number == int(number) else None


def _event(call_id) -> str | None:
    """A call's event name from the vendor's call id (symbols -> '_'); "call" when the table has none."""
    if call_id is None:
        return "call"
    event = _EVENT_SYMBOLS.sub("_", str(call_id).strip()).strip("._-")[:100]
    try:
        return check_call_event(event)
    except ValueError:
        return None


def _unique_sentences(records: list[dict], report: ImportReport) -> list[dict]:
    """Sentences by number; an exact repeat is dropped and counted, a conflicting one rejected with its line."""
    records.sort(key=lambda r: (r["sent_idx"], r["order"][0], r["order"][1]))
    kept: list[dict] = []
    for record in records:
        if kept and kept[-1]["sent_idx"] == record["sent_idx"]:
            first = kept[-1]
            if (first["text"], first["praat"]) == (record["text"], record["praat"]):
                report.counts["duplicate_rows_dropped"] += 1
            else:
                report.reject(record["order"][0], record["order"][1],
                              f"sentence {record['sent_idx']} of call {record['call']!r} again, with other values "
                              f"(first at line {first['order'][1]}); the first is kept")
            continue
        kept.append(record)
    return kept


def call_table(sentences: list[dict]) -> pa.Table:
    """The raw call table of storm.ingest.calls: TABLE_SCHEMA, sentences in order, NaN for undefined."""
    columns = {"sent_idx": [s["sent_idx"] for s in sentences], "text": [s["text"] for s in sentences]}
    for position, name in enumerate(PRAAT_COLUMNS):
        columns[name] = [math.nan if s["praat"][position] is None else s["praat"][position] for s in sentences]
    return pa.table(columns, schema=TABLE_SCHEMA)


# --- (b) recordings with a mapping table ---

@dataclass(frozen=True)
class RecordingImport:
    """A folder of recordings and the table naming each one's ticker and date (and optionally transcript, event)."""

    folder: Path
    mapping: Path
    name: str = "recordings"
    tickers: frozenset[str] | None = None
    start: str | None = None
    end: str | None = None
    max_file_bytes: int = 256 * 1024 * 1024
    voice: bool = False  # also compute each sentence's voice report from the recording (storm.features.voice)
    dates: DateRange = field(default_factory=DateRange.default)


def import_recordings(spec: RecordingImport, store: ObjectStore, layout: Layout) -> ImportReport:
    """Copy each mapped recording (and its transcript as a text-only call table) into the raw layout."""
    report = ImportReport(kind="calls", name=spec.name, sources=[str(spec.mapping)])
    present = read_columns(spec.mapping)
    wanted = ["file", "ticker", "date", *[c for c in ("transcript", "event") if c in present]]
    folder = spec.folder.resolve()
    for chunk in iter_chunks(spec.mapping, wanted):
        report.add_rejects(chunk.rejects)
        report.counts["rows"] += chunk.read
        for _, row in chunk.rows.iterrows():
            problem = _copy_recording(row, folder, spec, store, layout, report)
            if problem:
                report.reject(str(spec.mapping), int(row["line"]), problem)
    report.objects.sort()
    report.write(store, layout)
    return report


def _copy_recording(row: pd.Series, folder: Path, spec: RecordingImport, store: ObjectStore, layout: Layout,
                    report: ImportReport) -> str | None:
    """None when the row's recording was copied (or filtered out), else why not."""
    ticker, date = str(row["ticker"]).strip(), str(row["date"]).strip()[:10]
    if spec.tickers is not None and ticker not in spec.tickers:
        report.counts["filtered_out"] += 1
        return None
    if not is_date(date):
        return f"bad date ({str(row['date'])[:40]!r})"
    if not spec.dates.contains(date):
        return spec.dates.reason(date)
    if (spec.start and date < spec.start) or (spec.end and date > spec.end):
        report.counts["outside_dates"] += 1
        return None
    market = report.names[ticker]
    if isinstance(market, Exception):
        return f"bad ticker ({market})"
    recording = _inside(folder, str(row["file"]).strip())
    if recording is None or not recording.is_file():
        return f"recording {str(row['file'])[:80]!r} is not a file inside {folder}"
    suffix = recording.suffix.lower()
    if suffix not in AUDIO_SUFFIXES:
        return f"recording {recording.name!r} is not one of {'/'.join(AUDIO_SUFFIXES)}"
    size = recording.stat().st_size
    if size > spec.max_file_bytes:
        return f"recording {recording.name!r} is {size} bytes, over ingest.max_file_bytes={spec.max_file_bytes}"
    named = str(row.get("event") or "").strip()
    event = _event(named) if named else _event(event_of_file(recording.stem, (ticker, market)))
    if event is None:
        return f"no event name can be made of {(named or recording.stem)!r}; give an event column"
    transcript = str(row.get("transcript") or "").strip()
    sentences, problem = _transcript(transcript, folder)
    if problem:
        return problem
    if spec.voice:  # from the file, block by block: the recording is never held whole while Praat runs
        try:
            sentences = _with_voice(recording, suffix, sentences, report)
        except RejectedInput as rejected:
            return f"recording {recording.name!r}: {rejected.reason}"
        except ValueError as wrong:  # the transcript's times cannot be cut from the recording
            return f"transcript {transcript[:80]!r}: {wrong}"
    target = layout.audio(date, market, event, suffix)
    store.write_bytes(target, recording.read_bytes())
    report.objects.append(target)
    report.counts["recordings_written"] += 1
    report.markets.setdefault(market, ticker)
    if sentences:
        table_path = layout.call_table(date, market, event)
        store.write_table(table_path, call_table(sentences))
        report.objects.append(table_path)
        report.counts["transcripts_written"] += 1
    return None


def event_of_file(stem: str, spellings: tuple[str, ...]) -> str:
    """A recording's default event name: its file name without a leading ticker or market name, which the audio's
    own name already starts with (AMZN-call.mp3 is AMZN's "call", not "AMZN-AMZN-call"); "call" when nothing is left."""
    for spelling in sorted(set(spellings), key=len, reverse=True):
        lead = re.match(rf"{re.escape(spelling)}(?:[-_. ]+|$)", stem, flags=re.IGNORECASE)
        if spelling and lead:
            return stem[lead.end():] or "call"
    return stem


def _transcript(name: str, folder: Path) -> tuple[list[dict] | None, str | None]:
    """(the sentences of the transcript a mapping row names, or why it cannot be read). The table is the user's own,
    so the transcript may be anywhere they point (relative to the recordings folder); only a regular file of at most
    MAX_TRANSCRIPT_BYTES is read, and nothing is ever written outside the store."""
    if not name:
        return None, None
    path = Path(name).expanduser()
    path = (path if path.is_absolute() else folder / path).resolve()
    if not path.is_file():
        return None, f"transcript {name[:80]!r} is not a file ({path})"
    size = path.stat().st_size
    if size > MAX_TRANSCRIPT_BYTES:
        return None, f"transcript {name[:80]!r} is {size:,} bytes, over {MAX_TRANSCRIPT_BYTES:,}; is it a transcript?"
    return transcript_sentences(path), None


def _with_voice(recording: Path, suffix: str, transcript: list[dict] | None, report: ImportReport) -> list[dict]:
    """The call's sentences with Praat's voice: at a timed transcript's times, at an untimed one's sentences aligned
    to the pauses, or, without a transcript, one row per stretch between pauses. Counts how many transcript sentences
    were paired with voice."""
    times = sentence_times(transcript)
    if transcript and times is None:
        sentences, alignment = aligned_sentences(recording, suffix, transcript)
        report.counts["aligned_calls"] += 1
        report.counts["aligned_sentence_boundaries"] += len(transcript) - 1
        report.counts["aligned_boundaries_at_pauses"] += alignment.boundaries_at_pauses
    else:
        sentences = sentences_with_voice(recording_voice_of(recording, suffix, times), transcript or [])
    report.counts["voiced_sentences"] += len(sentences)
    if transcript:
        report.counts["transcript_sentences"] += len(transcript)
        report.counts["sentences_paired_with_voice"] += sum(
            1 for sentence in sentences if sentence["text"] and any(v is not None for v in sentence["praat"]))
    return sentences


def aligned_sentences(recording: Path, suffix: str, transcript: list[dict]) -> tuple[list[dict], SentenceAlignment]:
    """An untimed transcript's sentences, each with the voice of the stretch aligned to it by length and pauses
    (storm.features.transcript_alignment); a sentence allotted under MIN_PAIRED_SECONDS of voiced time, or a stretch
    over MAX_TIMED_SECONDS, keeps its voice undefined."""
    alignment = align_sentences([max(len(sentence["text"]), 1) for sentence in transcript],
                                voiced_segments_of(recording, suffix))
    heard = [index for index, ((start, end), voiced) in enumerate(zip(alignment.spans, alignment.voiced_seconds))
             if voiced >= MIN_PAIRED_SECONDS and end - start <= MAX_TIMED_SECONDS]
    voice = recording_voice_of(recording, suffix, [alignment.spans[i] for i in heard]) if heard else None
    sentences = [{**sentence, "praat": [None] * N_PRAAT} for sentence in transcript]
    for row, index in enumerate(heard):
        sentences[index]["praat"] = [None if value != value else float(value) for value in voice[row].tolist()]
    return sentences, alignment


def _inside(folder: Path, name: str) -> Path | None:
    """The file a mapping row names, relative to the folder, or None when it would leave the folder."""
    if not name:
        return None
    candidate = (folder / name).resolve()
    return candidate if candidate == folder or folder in candidate.parents else None


def sentences_with_voice(voice: np.ndarray, transcript: list[dict]) -> list[dict]:
    """One row per voiced sentence; transcript lines paired with them when the counts agree, else rows of their own
    (the call vector pools voice and words separately, so the pairing never changes a reading)."""
    praat = [[None if value != value else float(value) for value in row] for row in voice.tolist()]
    if len(transcript) == len(praat):
        return [{**line, "praat": values} for line, values in zip(transcript, praat)]
    rows = [{"sent_idx": i, "text": None, "praat": values} for i, values in enumerate(praat)]
    return rows + [{**line, "sent_idx": len(rows) + i} for i, line in enumerate(transcript)]


TIMED_LINE = re.compile(r"^\s*(\d+(?:\.\d*)?)\t(\d+(?:\.\d*)?)\t(.*)$")  # start \t end \t text (Audacity labels)


def transcript_sentences(path: Path) -> list[dict]:
    """A transcript file's sentences: one a non-blank line, either plain text or ``start<TAB>end<TAB>text`` with
    times in seconds (an Audacity label track); timed only when every line is."""
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    timed = [TIMED_LINE.match(line) for line in lines]
    if lines and all(timed):
        sentences = text_sentences([match.group(3) for match in timed])
        if len(sentences) == len(timed):
            for sentence, match in zip(sentences, timed):
                sentence["times"] = (float(match.group(1)), float(match.group(2)))
            return sentences
    return text_sentences(lines)


def sentence_times(sentences: list[dict] | None) -> list[tuple[float, float]] | None:
    """The transcript's (start, end) seconds per sentence when it was timed, else None (cut at the pauses)."""
    if sentences and all("times" in sentence for sentence in sentences):
        return [sentence["times"] for sentence in sentences]
    return None


def text_sentences(lines: list[str]) -> list[dict]:
    """One call-table row per non-blank sentence; every voice feature undefined (a transcript has no voice)."""
    texts = (printable(line).strip() for line in lines)
    return [{"sent_idx": i, "text": text, "praat": [None] * len(PRAAT_COLUMNS)}
            for i, text in enumerate(text for text in texts if text)]
