"""`storm import calls`: per-sentence call feature tables (MAEC layout) or a folder of recordings, into the raw layout."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from storm.cli.common import ConfigOption, SetOption, build_config
from storm.cli.import_cmd import disk_full_message, is_disk_full
from storm.printable import printable


def register(import_app: typer.Typer) -> None:
    """Add the `calls` command to the `storm import` group."""

    @import_app.command("calls")
    def import_calls_command(
        sources: list[Path] = typer.Argument(..., help="Per-sentence tables (CSV, .csv.gz, Parquet), or ONE folder of "
                                                       "recordings with a mapping table."),
        mapping: Optional[Path] = typer.Option(None, help="Recordings: the table with file, ticker, date[, transcript, "
                                                          "event] columns (default: FOLDER/mapping.csv); a transcript "
                                                          "may be anywhere (absolute, or relative to FOLDER)."),
        tickers: Optional[str] = typer.Option(None, help="Only these tickers (vendor spelling or market name), comma list."),
        name: Optional[str] = typer.Option(None, help="The import's name (its manifest raw/imports/calls-NAME.json); "
                                                      "default: the first source's name."),
        start: Optional[str] = typer.Option(None, help="Only calls dated on or after this day, YYYY-MM-DD."),
        end: Optional[str] = typer.Option(None, help="Only calls dated on or before this day, YYYY-MM-DD."),
        voice: bool = typer.Option(False, "--voice", help="Recordings: also write each sentence's Praat voice "
                                                          "report (praat-parselmouth) as a call table; sentences are "
                                                          "cut at a transcript's start/end times (start<TAB>end<TAB>"
                                                          "text lines) when it has them, else its sentences are "
                                                          "aligned to the pauses by length; without a transcript, "
                                                          "at the pauses."),
        config: Optional[Path] = ConfigOption,
        overrides: Optional[list[str]] = SetOption,
        root: Optional[str] = typer.Option(None, help="Object store root (storage.root)."),
    ) -> None:
        """Import conference calls; bad rows go to quarantine/imports/ with file, line and reason; counts printed."""
        from storm.importing.calls import CallImport, RecordingImport, import_call_tables, import_recordings
        from storm.importing.rows import TableError
        from storm.store import Layout, open_store

        settings = build_config(config, overrides, **{"storage.root": root})
        store = open_store(settings.storage)
        layout = Layout(store)
        kept = frozenset(t.strip() for t in tickers.split(",") if t.strip()) if tickers else None
        label = name or _import_name(sources[0])
        began = time.perf_counter()
        try:
            if len(sources) == 1 and sources[0].is_dir():
                spec = RecordingImport(folder=sources[0], mapping=mapping or sources[0] / "mapping.csv", name=label,
                                       tickers=kept, start=start, end=end,
                                       max_file_bytes=settings.ingest.max_file_bytes, voice=voice)
                report = import_recordings(spec, store, layout)
            else:
                report = import_call_tables(sources, CallImport(name=label, tickers=kept, start=start, end=end),
                                            store, layout)
        except (TableError, ValueError, OSError) as err:
            full = isinstance(err, OSError) and is_disk_full(err)
            message = disk_full_message("calls", store.uri, err) if full else f"storm import calls: {printable(str(err))}"
            typer.secho(message, fg="red", err=True)
            raise typer.Exit(2) from None
        seconds = time.perf_counter() - began
        console = Console(highlight=False)
        for key, count in sorted(report.counts.items()):
            console.print(f"{key}: {count}", markup=False)
        console.print(f"rejected rows: {report.rejected} (quarantine/imports/calls-{label}.jsonl); markets: "
                      f"{len(report.markets)}; {import_rate(report.counts, seconds)}", markup=False, soft_wrap=True)
        paired = pairing_line(report.counts)
        if paired:
            console.print(paired, markup=False, soft_wrap=True)
        from storm.importing.crosscheck import cross_check

        for line in cross_check(report, store, layout):
            console.print(f"cross-check: {printable(line)}", markup=False, soft_wrap=True)


def import_rate(counts, seconds: float) -> str:
    """Calls and sentences written per second over the whole import (a recordings import has few rows and long
    seconds: its rate is in calls, never a rounded-off "0 rows/s")."""
    calls = counts.get("calls_written", 0) + counts.get("recordings_written", 0)
    sentences = counts.get("sentences_written", 0) + counts.get("voiced_sentences", 0)
    text = f"{seconds:.1f} s"
    if seconds > 0 and calls:
        text += f", {_per_second(calls / seconds)} calls/s"
    if seconds > 0 and sentences:
        text += f", {_per_second(sentences / seconds)} sentences/s"
    return text


def _per_second(rate: float) -> str:
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:.3g}"


def pairing_line(counts) -> str | None:
    """How many transcript sentences got the voice of their stretch of the recording, and how (None: no pairing)."""
    sentences = counts.get("transcript_sentences", 0)
    if not sentences:
        return None
    paired = counts.get("sentences_paired_with_voice", 0)
    line = f"words and voice paired: {paired:,} of {sentences:,} transcript sentences ({paired / sentences:.0%})"
    boundaries = counts.get("aligned_sentence_boundaries", 0)
    if counts.get("aligned_calls", 0):
        at_pauses = counts.get("aligned_boundaries_at_pauses", 0)
        line += (f"; {counts['aligned_calls']:,} untimed transcript(s) aligned to the pauses by sentence length, "
                 f"{at_pauses:,} of {boundaries:,} sentence boundaries at a pause")
    return line


def _import_name(source: Path) -> str:
    stem = source.name.split(".", 1)[0] or "calls"
    return "".join(c if c.isalnum() or c in "_.-" else "_" for c in stem).lstrip("._-")[:100] or "calls"
