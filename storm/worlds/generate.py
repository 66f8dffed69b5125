"""Write a world into the raw layout: prices, charts, news, conference audio, manifest (and truth, apart).

Every item comes from its own (seed, stream, market, day) generator, so the
same seed gives the same bytes whatever the order or parallelism of writes.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import nullcontext
from multiprocessing import get_context
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm import tqdm

from storm.config import StormConfig
from storm.labels import storm_flags
from storm.store import Layout, ObjectStore
from storm.worlds.ceiling import ceiling_table, storm_probabilities
from storm.charts import encode_png, render_chart
from storm.worlds.news import headlines_for_day
from storm.worlds.plan import WorldPlan, market_rng
from storm.worlds.replay import replay_world
from storm.worlds.speech import SpeechScript, conference_script, require_espeak, synthesize
from storm.worlds.synthetic import synthetic_world
from storm.worlds.wav import encode_wav
from storm.features.voice import recording_voice_of
from storm.importing.calls import call_table, sentences_with_voice, text_sentences

NEWS_STREAM, SCHEDULE_STREAM, SPEECH_STREAM, CEILING_STREAM = 3, 4, 5, 6
TRADING_DAYS_PER_MONTH = 21
CONFERENCE_EVENT = "conference"
WRITE_THREADS = 4  # I/O bound (S3 PUTs); rendering stays on the main thread
SPEECH_PROCESSES = 2  # espeak-ng subprocesses and Praat processes at a time: the machine has 2 cores


@dataclass(frozen=True)
class WorldSummary:
    kind: str
    root: str
    markets: tuple[str, ...]
    start: str
    end: str
    trading_days: int
    counts: dict[str, int] = field(default_factory=dict)  # prices, charts, news_files, headlines, audio, call_tables, truth
    storm_rate: dict[int, float] = field(default_factory=dict)  # share of labelled market-days with storm_{h}d = 1
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)  # plan, prices, truth, ceiling, charts, news, audio


class WorldRootError(ValueError):
    """The target root holds raw data that storm generate did not write."""


def plan_world(config: StormConfig) -> WorldPlan:
    return synthetic_world(config.world) if config.world.kind == "synthetic" else replay_world(config.world)


def generate_world(config: StormConfig, store: ObjectStore, progress: bool = True) -> WorldSummary:
    """Write the configured world under store's root, replacing a previously generated one."""
    began = time.perf_counter()
    layout = Layout(store)
    stages = _StageClock()
    plan = stages.run("plan", plan_world, config)
    if config.world.with_audio:
        require_espeak()
    _clear_previous_world(store, layout)
    counts: dict[str, int] = {}
    with ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="storm-write") as writer:
        pending: list[Future] = []
        counts["prices"] = stages.run("prices", _write_prices, plan, store, layout, writer, pending)
        counts["truth"] = stages.run("truth", _write_truth, plan, store, layout)
        counts["storm_probability"] = stages.run("ceiling", _write_ceiling, plan, config, store, layout, progress)
        counts["charts"] = stages.run("charts", _write_charts, plan, config, store, layout, writer, pending, progress)
        counts["news_files"], counts["headlines"] = (
            stages.run("news", _write_news, plan, config, store, layout, writer, pending, progress)
            if config.world.with_text else (0, 0))
        counts["audio"], counts["call_tables"] = (stages.run("audio", _write_audio, plan, config, store, layout, progress)
                                                  if config.world.with_audio else (0, 0))
        for future in pending:
            future.result()
    storm_rate = world_storm_rates(plan, config)
    store.write_text(layout.world_manifest(), json.dumps(_manifest(plan, config, counts, storm_rate), indent=2))
    return WorldSummary(kind=plan.kind, root=store.uri, markets=plan.markets, start=plan.dates[0], end=plan.dates[-1],
                        trading_days=len(plan.dates), counts=counts, storm_rate=storm_rate,
                        seconds=time.perf_counter() - began, stage_seconds=stages.seconds)


class _StageClock:
    """Seconds per generation stage (writes still queued finish in the total, not in their stage)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def run(self, stage: str, action, *args):
        began = time.perf_counter()
        result = action(*args)
        self.seconds[stage] = round(time.perf_counter() - began, 3)
        return result


def world_storm_rates(plan: WorldPlan, config: StormConfig) -> dict[int, float]:
    rates = {}
    for horizon in config.labels.horizons:
        flags = np.concatenate([storm_flags(plan.prices[m]["close"].to_numpy(), horizon, config.labels.drawdown_threshold)
                                for m in plan.markets])
        rates[horizon] = float(np.nanmean(flags)) if np.isfinite(flags).any() else float("nan")
    return rates


def _clear_previous_world(store: ObjectStore, layout: Layout) -> None:
    """Remove the raw files of an earlier generated world, so a smaller rerun leaves no stale days behind."""
    raw_root, truth_root = store.path("raw"), store.path("truth")
    if not store.exists(raw_root) or not store.list_files(raw_root):
        store.delete([truth_root])
        return
    if not store.exists(layout.world_manifest()):
        raise WorldRootError(f"{store.uri}/raw holds data that storm generate did not write (no raw/world.json); "
                             "generate into an empty --root so real inputs are never overwritten")
    store.delete([layout.prices_dir(), *(layout.raw_dir(s) for s in ("news", "charts", "audio")),
                  layout.call_tables_dir(), layout.world_manifest(), truth_root])


def _write_prices(plan: WorldPlan, store: ObjectStore, layout: Layout, writer: Executor, pending: list[Future]) -> int:
    for market in plan.markets:
        pending.append(writer.submit(store.write_table, layout.prices(market), plan.prices[market]))
    return len(plan.markets)


def _write_truth(plan: WorldPlan, store: ObjectStore, layout: Layout) -> int:
    if plan.fragility is None:
        return 0
    truth = pd.DataFrame({
        "market": np.repeat(plan.markets, len(plan.dates)),
        "date": np.tile(plan.dates, len(plan.markets)),
        "fragility": plan.fragility.reshape(-1),
    })
    store.write_table(layout.truth_fragility(), truth)
    return 1


def _write_ceiling(plan: WorldPlan, config: StormConfig, store: ObjectStore, layout: Layout, progress: bool) -> int:
    """truth/storm_probability.parquet from forward paths of the hidden state, on a stream of its own."""
    if plan.hidden is None or config.world.ceiling_paths == 0:
        return 0
    horizons = config.labels.horizons
    probability = storm_probabilities(plan.hidden, horizons, config.labels.drawdown_threshold,
                                      config.world.ceiling_paths, market_rng(plan.seed, CEILING_STREAM, 0), progress)
    store.write_table(layout.truth_storm_probability(), ceiling_table(plan.markets, plan.dates, horizons, probability))
    return 1


def _write_charts(plan: WorldPlan, config: StormConfig, store: ObjectStore, layout: Layout, writer: Executor,
                  pending: list[Future], progress: bool) -> int:
    days, size = config.features.chart_days, config.features.chart_size
    bar = tqdm(total=len(plan.markets) * len(plan.dates), desc="charts", unit="chart", file=sys.stderr,
               disable=not progress)
    for market in plan.markets:
        prices = plan.prices[market]
        for day, date in enumerate(plan.dates):
            png = encode_png(render_chart(prices.iloc[max(0, day - days + 1):day + 1], size))
            pending.append(writer.submit(store.write_bytes, layout.chart(date, market), png))
            bar.update()
    bar.close()
    return len(plan.markets) * len(plan.dates)


def _write_news(plan: WorldPlan, config: StormConfig, store: ObjectStore, layout: Layout, writer: Executor,
                pending: list[Future], progress: bool) -> tuple[int, int]:
    """One headlines.jsonl per date holding every market's headlines; no file on a day without news."""
    world = config.world
    files = headlines = 0
    for day, date in enumerate(tqdm(plan.dates, desc="news", unit="day", file=sys.stderr, disable=not progress)):
        records = [record
                   for index, market in enumerate(plan.markets)
                   for record in headlines_for_day(market_rng(plan.seed, NEWS_STREAM, index, day), market, date,
                                                   float(plan.news_pressure[index, day]), world.headlines_per_day,
                                                   world.no_news_day_probability)]
        if records:
            lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
            pending.append(writer.submit(store.write_text, layout.news_file(date), lines))
            files, headlines = files + 1, headlines + len(records)
    return files, headlines


def conference_days(plan: WorldPlan, conferences_per_month: float) -> list[tuple[int, int]]:
    """(market index, day index) of each conference: a Bernoulli draw per trading day."""
    chance = min(1.0, conferences_per_month / TRADING_DAYS_PER_MONTH)
    schedule = []
    for index in range(len(plan.markets)):
        draws = market_rng(plan.seed, SCHEDULE_STREAM, index).uniform(size=len(plan.dates))
        schedule.extend((index, int(day)) for day in np.flatnonzero(draws < chance))
    return schedule


def _write_audio(plan: WorldPlan, config: StormConfig, store: ObjectStore, layout: Layout,
                 progress: bool) -> tuple[int, int]:
    """Each scheduled call: its recording, and with world.call_tables its transcript and Praat's per-sentence voice
    report of the recording as a call table beside it (what `storm import calls --voice` writes for a user's call).
    Returns (recordings, call tables) written."""
    rate = config.ingest.audio_sample_rate
    schedule = conference_days(plan, config.world.conferences_per_month)
    with_tables = config.world.call_tables

    def speak(index: int, day: int, voices: Executor | None) -> None:
        market, date = plan.markets[index], plan.dates[day]
        script = conference_script(market_rng(plan.seed, SPEECH_STREAM, index, day), market,
                                   float(plan.speech_pressure[index, day]))
        recording = encode_wav(synthesize(script, rate), rate)
        store.write_bytes(layout.audio(date, market, CONFERENCE_EVENT), recording)
        if voices is not None:  # heard from the recording's bytes, as `storm import calls --voice` hears a user's
            voice = voices.submit(recording_voice_of, recording, ".wav").result()
            store.write_table(layout.call_table(date, market, CONFERENCE_EVENT), transcript_table(script, voice))

    # Praat holds the GIL: its reports run in processes, while threads drive espeak-ng and the writes
    praat = (ProcessPoolExecutor(SPEECH_PROCESSES, mp_context=get_context("spawn")) if with_tables and schedule
             else nullcontext())
    with praat as voices, ThreadPoolExecutor(2 * SPEECH_PROCESSES, thread_name_prefix="storm-speech") as speakers:
        futures = [speakers.submit(speak, index, day, voices) for index, day in schedule]
        for future in tqdm(futures, desc="calls", unit="call", file=sys.stderr, disable=not progress):
            future.result()
    return len(schedule), len(schedule) if with_tables else 0


def transcript_table(script: SpeechScript, voice: np.ndarray):
    """A generated call's table: its script, one sentence a row, beside the voice Praat heard in its recording."""
    return call_table(sentences_with_voice(voice, text_sentences(list(script.sentences))))


def _manifest(plan: WorldPlan, config: StormConfig, counts: dict[str, int], storm_rate: dict[int, float]) -> dict:
    """raw/world.json: what was generated and how; holds nothing of the hidden truth."""
    return {
        "kind": plan.kind, "seed": plan.seed, "markets": list(plan.markets), "start": plan.dates[0],
        "end": plan.dates[-1], "trading_days": len(plan.dates), "source": plan.source, "counts": counts,
        "storm_rate": {str(h): round(r, 6) for h, r in storm_rate.items()},
        "chart_size": config.features.chart_size, "chart_days": config.features.chart_days,
        "audio_sample_rate": config.ingest.audio_sample_rate, "audio_event": CONFERENCE_EVENT,
        "world": config.world.model_dump(mode="json"),
    }
