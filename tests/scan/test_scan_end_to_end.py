"""The nightly scan on real parts: a tiny generated world, a model trained with Ray Train,
Ray Data batch inference, the object store, and a real Pushgateway + Prometheus."""

from __future__ import annotations

import hashlib
import subprocess
import urllib.request

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from html_tables import PageReader
from servers import free_port, prometheus_query, prometheus_server, pushgateway_server, wait_until
from storm.cli import app
from storm.config import load_config
from storm.explain.table import EXPLANATION_COLUMNS
from storm.metrics import contract
from storm.scan import scan
from storm.scan.coherence import check_horizon_order
from storm.scan.night_report import night_html, scan_summary
from storm.scan.scan import scores_in_driver
from storm.scan.score_store import ScoresOwnedByOtherVersion
from storm.schema import SCORE_COLUMNS
from storm.store import Layout, open_store
from storm.training.trainer import TrainingRequest, train_models
from storm.worlds import generate_world

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained_world(tmp_path_factory, ray_cluster):
    """3 markets x 90 days, one epoch of 2-worker training: enough to exercise every path, not to be accurate."""
    root = tmp_path_factory.mktemp("scan-world")
    config = load_config(environ={}, overrides={
        "storage.root": str(root / "store"),
        "world.n_markets": 3, "world.n_days": 90, "world.conferences_per_month": 4,
        "train.epochs": 1, "train.num_workers": 2, "train.batch_size": 32, "train.run_name": "scan-test",
        "metrics.textfile": str(root / "storm.prom"),
        # news must be able to move the score for the headline tests below: an anchored model whose validation
        # block chose evidence weight 0 reads prices alone, and then no headline has an effect (tests/explain)
        "model.anchored_fusion": False,
        # float32 sentence embeddings do not depend on which sentences shared a batch (bf16's do, by ~1e-3), so
        # storm explain re-embeds a call's sentences to its scored vector within 1e-5 (tests of explain opening calls)
        "features.embed_precision": "float32",
    })
    store = open_store(config.storage)
    world = generate_world(config, store, progress=False)
    recode_conferences(store, Layout(store))
    # production and a candidate (another seed, so another version) in one worker group: Ray Train starts once
    train_models([TrainingRequest(config), TrainingRequest(candidate_of(config))])
    return config, world, store


def candidate_of(config):
    return config.with_overrides({"train.run_name": "scan-candidate", "train.seed": 1})


def recode_conferences(store, layout: Layout) -> None:
    """Calls arrive as vendors publish them: every third as MP3, every third as FLAC, the rest WAV (libsndfile)."""
    import io

    import soundfile

    for index, path in enumerate(sorted(store.list_files(layout.raw_dir("audio"), ".wav"))):
        suffix = (".wav", ".mp3", ".flac")[index % 3]
        if suffix == ".wav":
            continue
        samples, rate = soundfile.read(io.BytesIO(store.read_bytes(path)), dtype="float32")
        sink = io.BytesIO()
        soundfile.write(sink, samples, rate, format=suffix[1:].upper())
        store.write_bytes(path.removesuffix(".wav") + suffix, sink.getvalue())
        store.delete([path])


def test_scan_of_the_last_day_scores_every_market_and_horizon(trained_world):
    config, world, store = trained_world
    outcome = scan(config, publish=False)
    assert outcome.dates == [world.end]
    scores = store.read_table(Layout(store).scores(world.end)).to_pandas()
    assert list(scores.columns) == list(SCORE_COLUMNS)
    assert sorted(set(scores.market)) == sorted(world.markets)
    assert sorted(set(scores.horizon)) == config.labels.horizons
    assert scores.score.between(0, 1).all()
    assert (scores.alert | (scores.score < scores.threshold)).all()  # over its threshold: an alert (nested, see below)
    check_horizon_order(scores)  # P(≤5d) ≤ P(≤10d) ≤ P(≤20d), and an alert at 5d is one at 20d too
    present = scores[["present_news", "present_prices", "present_calls"]].to_numpy()
    weights = scores[["weight_news", "weight_prices", "weight_calls"]].to_numpy()  # now each modality's contribution
    assert (weights[~present] == 0).all()
    explained = store.read_table(Layout(store).explanations(world.end)).to_pandas()
    baseline = scores.merge(explained[["market", "horizon", "baseline"]].drop_duplicates(), on=["market", "horizon"])
    assert abs(weights.sum(axis=1) - (scores.score - baseline.baseline).to_numpy()).max() < 1e-6


def test_every_score_is_explained_and_its_contributions_add_up_to_score_minus_baseline(trained_world):
    config, world, store = trained_world
    outcome = scan(config, publish=False)
    scores, explained = outcome.scores[world.end], outcome.explanations[world.end]
    assert explained.equals(store.read_table(Layout(store).explanations(world.end)).to_pandas())
    assert list(explained.columns) == list(EXPLANATION_COLUMNS)
    modalities = explained[explained.kind == "modality"]
    for (market, horizon), rows in modalities.groupby(["market", "horizon"]):
        stored = scores[(scores.market == market) & (scores.horizon == horizon)].iloc[0]
        assert abs(rows.score.iloc[0] - stored.score) < 1e-6  # the explained score is the stored score
        assert abs(rows.contribution.sum() - (rows.score.iloc[0] - rows.baseline.iloc[0])) < 1e-6
        assert abs(rows.contribution_logit.sum() - (rows.score_logit.iloc[0] - rows.baseline_logit.iloc[0])) < 1e-5
    items = explained[explained.kind == "item"]
    assert {"news", "prices"} <= set(items.modality)  # headlines and price readings, named for a reader
    prices = items[items.modality == "prices"]
    readings = prices[~prices.item_key.isin(["calm reference", "other items"])]
    assert len(readings) and readings.item.str.contains(r"\(usually ").all()  # each beside the market's calm value


def test_modality_contributions_are_not_the_equal_placeholder(trained_world):
    """Fails if every score is split equally over its modalities (the old weight_* = 1/3 placeholder)."""
    config, world, store = trained_world
    scores = scan(config, publish=False).scores[world.end]
    alerts = scores[scores.alert] if scores.alert.sum() >= 2 else scores  # two markets at least, to compare them
    weights = alerts[["weight_news", "weight_prices", "weight_calls"]].to_numpy()
    assert not np.isclose(weights, weights[:, :1]).all(axis=1).all()
    assert not np.isclose(weights, 1 / 3).all()
    assert len(np.unique(weights.round(9))) > 3  # they differ from market to market, too


def test_scan_prints_each_alerts_driver_and_explain_prints_the_breakdown_and_the_change(trained_world, monkeypatch):
    from rich.console import Console

    from storm.cli.explain_cmd import run_explain
    from storm.cli.scan_cmd import run_scan

    config, world, store = trained_world
    layout = Layout(store)
    days = sorted(store.read_table(layout.prices(world.markets[-1])).to_pandas()["date"])[-2:]
    outcome = scan(config, start=days[0], end=days[-1], publish=False)
    market = world.markets[-1]
    console = Console(width=100, record=True, color_system=None)
    assert run_explain(config, market, days[-1], 20, console=console) == 0
    text = console.export_text()
    assert f"{market} on {days[-1]}, 20-day horizon" in text and "every modality masked" in text
    for heading in ("news", "prices", "sum", "since " + days[0]):
        assert heading in text, text
    explained = outcome.explanations[days[-1]]
    top = explained[(explained.market == market) & (explained.horizon == 20) & (explained.kind == "item")
                    & (explained.modality == "news") & (explained["rank"] == 1)]
    assert top.item.iloc[0] in text  # the first-ranked headline, as published
    # the scan's own output: with an alert forced on one market, its driver and top 3 items are printed
    forced = outcome.scores[days[-1]].assign(alert=lambda t: t.market == market)
    monkeypatch.setattr("storm.scan.scan", lambda *a, **k: type(outcome)(
        dates=[days[-1]], scores={days[-1]: forced}, stats=outcome.stats, model_version=outcome.model_version,
        score_paths=outcome.score_paths, explanations=outcome.explanations, report_paths=outcome.report_paths))
    console = Console(width=100, record=True, color_system=None)
    assert run_scan(config, None, None, publish=False, console=console) == 0
    printed = console.export_text()
    assert f"{market} 5d: driven by" in printed, printed


def test_each_modalitys_stored_items_add_up_to_its_contribution_and_prices_name_their_calm(trained_world):
    config, world, store = trained_world
    outcome = scan(config, publish=False)
    explained = outcome.explanations[world.end]
    keys = ["market", "horizon", "modality"]
    items = explained[explained.kind == "item"].groupby(keys)["contribution_logit"].sum()
    modalities = explained[explained.kind == "modality"].set_index(keys)["contribution_logit"]
    assert len(items) and (items - modalities.loc[items.index]).abs().max() < 1e-5  # kept items + "the other n"
    prices = explained[(explained.kind == "item") & (explained.modality == "prices")]
    assert (prices.item_key == "calm reference").any()  # what the model reads from each market's usual prices
    dated = prices[~prices.item_key.isin(["calm reference", "other items"])]
    assert (dated.item_date.str.len() == 10).all()  # each reading names the day that drove it


def test_explain_opens_a_scored_call_into_its_sentences_whose_parts_add_up_to_its_stored_effect(trained_world):
    from rich.console import Console

    from storm.cli.explain_cmd import run_explain
    from storm.explain.open_calls import REPRODUCED, open_calls
    from storm.published.artifacts import read_model

    config, world, store = trained_world
    layout = Layout(store)
    explained = scan(config, publish=False).explanations[world.end]
    calls = explained[(explained.kind == "item") & (explained.modality == "calls") & (explained.horizon == 20)
                      & explained.item.str.endswith("(words and voice)")]
    assert len(calls), "the world's call tables are read as calls"
    top = calls.loc[calls.contribution_logit.abs().idxmax()]
    mine = calls[calls.market == top.market]
    published = read_model(store, layout, config.train.run_name, top.model_version)
    opened = {call.item_key: call for call in open_calls(config, store, layout, published, top.market, world.end, mine)}
    call = opened[top.item_key]
    assert call.parts is not None, call.note
    assert call.mismatch <= REPRODUCED, call.note  # the re-read, re-embedded sentences pool to the scored vector
    h, k = call.horizons.index(20), len(call.horizons)
    assert abs(call.parts.value[h] - top.contribution_logit) < 1e-5  # the game's whole call is the stored call
    assert abs(call.parts.value[k + h] - top.contribution) < 1e-6
    assert abs(call.parts.reference[h] + call.parts.sentences[:, h].sum() - top.contribution_logit) < 1e-5
    assert abs(call.parts.reference[h] + call.parts.words[h] + call.parts.voice[h] - top.contribution_logit) < 1e-5
    assert abs(call.parts.voice_groups[:, h].sum() - call.parts.voice[h]) < 1e-5
    console = Console(width=100, record=True, color_system=None)
    assert run_explain(config, top.market, world.end, 20, console=console) == 0
    text = console.export_text()
    under = text[text.index(top["item"]):]
    first = int(np.argmax(np.abs(call.parts.sentences[:, h])))
    assert "sentences, those that moved it most" in under and f"sentence {first + 1}: " in under
    assert f"the parts add up to the call's effect {top.contribution_logit:+.4f}" in under
    assert "pool back to the scored call vector" in under and "voice by feature group" in under
    console = Console(width=100, record=True, color_system=None)
    assert run_explain(config, top.market, world.end, 20, console=console, open_calls=False) == 0
    assert "sentences, those that moved it most" not in console.export_text()


def test_mp3_and_flac_conferences_are_decoded_and_scored_like_wav(trained_world):
    from storm.features.panel import ingested_evidence

    config, world, store = trained_world
    layout = Layout(store)
    suffixes = {path.rsplit(".", 1)[-1] for path in store.list_files(layout.raw_dir("audio"))}
    assert suffixes == {"wav", "mp3", "flac"}
    evidence = ingested_evidence(config, world.start, world.end)
    assert evidence.report.counts["audio"]["quarantined"] == 0
    assert len(evidence.panel.conference_row) == len(store.list_files(layout.raw_dir("audio")))  # every call, any format
    outcome = scan(config, publish=False)
    assert outcome.scores[world.end]["present_calls"].any()


def test_rerunning_a_backfill_replaces_each_date_with_identical_bytes(trained_world):
    config, world, store = trained_world
    layout = Layout(store)
    days = sorted(store.read_table(layout.prices(world.markets[0])).to_pandas()["date"])[-3:]

    def digest() -> dict[str, str]:
        return {d: hashlib.sha256(store.read_bytes(layout.scores(d))).hexdigest() for d in days}

    scan(config, start=days[0], end=days[-1], publish=False)
    first = digest()
    scan(config, start=days[0], end=days[-1], publish=False)
    assert digest() == first
    assert len([p for p in store.list_files(layout.scores_dir(), "scores.parquet") if any(d in p for d in days)]) == 3


def assert_same_explanations_up_to_ties(left: pd.DataFrame, right: pd.DataFrame, path: str) -> None:
    """The same ranked effects up to float rounding; where two items' effects tie to rounding (a recording and the
    call table of the same call, say) either may take the rank, so a differing item must carry the same effect."""
    keys = ["date", "market", "horizon", "kind", "modality", "rank"]
    left, right = (t.sort_values(keys).reset_index(drop=True) for t in (left, right))
    assert not left.duplicated(keys).any(), f"{path}: a rank given twice"
    pd.testing.assert_frame_equal(left[keys], right[keys], obj=path)
    for column in ("contribution_logit", "score_logit", "baseline_logit"):
        np.testing.assert_allclose(left[column], right[column], rtol=1e-5, atol=1e-6, err_msg=f"{path}: {column}")
    same_item = (left["item"] == right["item"]).to_numpy()
    assert same_item.mean() > 0.95, f"{path}: {(~same_item).sum()} of {len(left)} ranked items differ"
    pd.testing.assert_frame_equal(left[same_item], right[same_item], check_exact=False, rtol=1e-5, atol=1e-6, obj=path)


def test_scoring_one_market_at_a_time_on_an_actor_stores_what_one_batch_in_this_process_stores(trained_world):
    """scan.market_batch bounds memory only, and scan.scoring only says where: 3 batches of 1 market scored on a
    Ray actor store what 1 batch of 3 scored in the scan's own process (auto, on this one-node cluster) stores.

    Equal up to float rounding: the model scores a batch of rows at once, and a different batch size may round
    the last bits differently; where two items' effects tie, that can hand a rank to the other one.
    """
    config, world, store = trained_world
    layout = Layout(store)
    days = sorted(store.read_table(layout.prices(world.markets[0])).to_pandas()["date"])[-2:]

    def stored() -> dict[str, pd.DataFrame]:
        return {path: store.read_table(path).to_pandas() for d in days
                for path in (layout.scores(d), layout.explanations(d))}

    scan(config, start=days[0], end=days[-1], publish=False)
    whole = stored()
    assert scores_in_driver(config)
    one_at_a_time = config.with_overrides({"scan.market_batch": 1, "scan.scoring": "actor"})
    assert not scores_in_driver(one_at_a_time)
    outcome = scan(one_at_a_time, start=days[0], end=days[-1], publish=False)
    assert sorted(set(outcome.scores[days[-1]].market)) == sorted(world.markets)
    for path, table in stored().items():
        if "rank" in table.columns:
            assert_same_explanations_up_to_ties(table, whole[path], path)
        else:
            pd.testing.assert_frame_equal(table, whole[path], check_exact=False, rtol=1e-5, atol=1e-6, obj=path)
    explained = outcome.explanations[days[-1]]
    headlines = explained[(explained.kind == "item") & (explained.modality == "news")]
    assert (headlines.item_date < days[0]).any()  # the window's earlier headlines are read, not just the scanned days'


def test_market_with_no_inputs_that_day_is_reported_missing_not_silently_skipped(trained_world):
    config, world, store = trained_world
    layout = Layout(store)
    gone = world.markets[0]
    day = world.end
    # the scan sees a window of past days: take every chart, call and headline of the market out of the store
    for folder in (layout.raw_dir("charts"), layout.raw_dir("audio"), layout.call_tables_dir()):
        store.delete([p for p in store.list_files(folder) if f"/{gone}" in p])
    for news in store.list_files(layout.raw_dir("news"), ".jsonl"):
        kept = [line for line in store.read_text(news).splitlines() if f'"{gone}"' not in line]
        store.write_text(news, "\n".join(kept) + "\n")
    no_rendering = config.with_overrides({"features.render_missing_charts": False})  # no chart drawn from prices either
    outcome = scan(no_rendering, start=day, end=day, publish=False, force=True)
    stats = outcome.stats[day]
    assert gone in stats.markets_missing
    assert gone not in set(outcome.scores[day].market)
    assert stats.inputs["prices"]["missing"] >= 1


def test_a_candidate_scans_into_its_own_namespace_and_another_version_may_not_overwrite_production(trained_world):
    config, world, store = trained_world
    layout = Layout(store)
    scan(config, publish=False)
    production = store.read_bytes(layout.scores(world.end))
    candidate = candidate_of(config)
    scan(candidate, publish=False, candidate=True)
    assert store.exists(layout.scores(world.end, "scan-candidate"))
    with pytest.raises(ScoresOwnedByOtherVersion, match="--force"):
        scan(candidate, publish=False)
    assert store.read_bytes(layout.scores(world.end)) == production


def test_scan_metrics_reach_prometheus_through_the_pushgateway_and_pass_promtool(trained_world, tmp_path):
    config, world, _ = trained_world
    (tmp_path / "gw").mkdir(), (tmp_path / "prom").mkdir()
    with pushgateway_server(tmp_path / "gw") as gateway, prometheus_server(tmp_path / "prom", gateway.address) as prom:
        outcome = scan(config.with_overrides({"metrics.pushgateway_url": gateway.url}))
        assert outcome.publish_error is None
        wait_until(lambda: prometheus_query(prom.url, contract.SCAN_INPUTS), what="the scan's metrics in Prometheus")
        for metric in contract.ALL_METRICS:
            assert prometheus_query(prom.url, metric), f"{metric} missing from Prometheus"
        scored_markets = {series["metric"]["market"] for series in prometheus_query(prom.url, contract.ALERT_SCORE)}
        info = prometheus_query(prom.url, contract.MODEL_INFO)[0]["metric"]
    assert scored_markets == set(world.markets)
    assert info["label_kind"] == "drawdown" and info["members"] == "fused"  # which storm, and an unstacked model
    exposition = open(config.metrics.textfile, "rb").read()
    check = subprocess.run(["promtool", "check", "metrics"], input=exposition, capture_output=True)
    assert check.returncode == 0, check.stderr.decode() + check.stdout.decode()


def test_failed_push_keeps_the_scores_and_metrics_push_republishes_them(trained_world, tmp_path):
    config, world, store = trained_world
    dead = config.with_overrides({"metrics.pushgateway_url": f"http://127.0.0.1:{free_port()}",
                                  "metrics.push_retries": 1, "metrics.push_backoff_seconds": 0.01})
    outcome = scan(dead)
    assert outcome.publish_error is not None and "storm metrics push --date" in str(outcome.publish_error)
    stored = store.read_table(Layout(store).scores(world.end)).to_pandas()
    pd.testing.assert_frame_equal(stored, outcome.scores[world.end])

    (tmp_path / "gw").mkdir()
    with pushgateway_server(tmp_path / "gw") as gateway:
        result = CliRunner().invoke(app, [
            "metrics", "push", "--date", world.end,
            "--set", f"storage.root={config.storage.root}", "--set", f"metrics.pushgateway_url={gateway.url}",
            "--set", f"metrics.textfile={tmp_path / 'again.prom'}",
        ])
        assert result.exit_code == 0, result.output
        pushed = urllib.request.urlopen(f"{gateway.url}/metrics", timeout=10).read().decode()
        for market in world.markets:
            assert f'market="{market}"' in pushed


def test_auto_scoring_leaves_the_driver_for_an_actor_when_workers_are_pinned_to_labelled_nodes(ray_cluster):
    config = load_config(environ={})
    assert scores_in_driver(config)  # the test cluster: one node, no GPU
    assert not scores_in_driver(config.with_overrides({"ray.worker_resources": {"storm_worker": 1}}))
    assert scores_in_driver(config.with_overrides({"ray.worker_resources": {"storm_worker": 1}, "scan.scoring": "driver"}))


def test_the_scan_of_a_stacked_model_stores_what_scoring_the_product_in_one_process_gives(trained_world):
    """storm train's product (the neural model stacked with the desk's members, product.json) scanned a market at
    a time on a Ray actor stores the scores the same ProductModel gives when every member is scored here at once;
    each stored score's member contributions add up to score − baseline."""
    from storm.desk.product import NEURAL, ProductModel
    from storm.evaluation.product import publish_product
    from storm.features.panel import ingested_evidence
    from storm.features.windows import gather_windows
    from storm.ingest import read_prices
    from storm.schema import PRODUCT_MEMBERS, member_column
    from storm.published.artifacts import read_model
    from storm.published.predictor import predictor_from_published

    config, world, store = trained_world
    candidate = candidate_of(config)
    layout = Layout(store)
    prices = read_prices(store, layout)
    evidence = ingested_evidence(candidate, str(prices["date"].min()), str(prices["date"].max()), store=store)
    published = publish_product(candidate, evidence, store)
    model = read_model(store, layout, "scan-candidate")
    assert model.version == published.version and model.product is not None
    assert model.card["product"]["members"][0] == NEURAL
    day = sorted(prices["date"].unique())[-1]
    outcome = scan(candidate.with_overrides({"scan.market_batch": 1, "scan.scoring": "actor"}), start=day, end=day,
                   publish=False, candidate=True, force=True)  # the candidate's unstacked version scanned this day
    stored = store.read_table(layout.scores(day, "scan-candidate")).to_pandas()
    assert (stored["model_version"] == published.version).all()

    product = ProductModel.from_json(model.product)
    rows = evidence.panel.rows_on([day])
    neural = predictor_from_published(model).predict(gather_windows(evidence.panel, rows))
    keys = pd.DataFrame({"market": evidence.panel.market[rows], "date": evidence.panel.date[rows]})
    desk = product.desk.raw_logits(prices[prices["date"] <= day])
    probabilities = {NEURAL: np.column_stack([neural[f"score_{h}d"] for h in product.horizons])}
    for member in product.used_members():
        if member != NEURAL:
            table = keys.merge(desk[member], on=["market", "date"], how="left")
            probabilities[member] = product.desk.probability(member, table.filter(like="logit_").to_numpy())
    expected = product.score(probabilities, len(keys)).probability
    for i, h in enumerate(product.horizons):
        mine = stored[stored["horizon"] == h].set_index("market").loc[keys["market"], "score"].to_numpy()
        assert np.allclose(mine, expected[:, i], rtol=1e-5, atol=1e-6)
    explained = outcome.explanations[day]
    members = explained[explained["kind"] == "member"]
    assert len(members) and set(members["item"]) <= set(PRODUCT_MEMBERS)
    total = members.groupby(["market", "horizon"]).agg(contribution=("contribution", "sum"), score=("score", "first"),
                                                       baseline=("baseline", "first"))
    assert np.allclose(total["contribution"], total["score"] - total["baseline"], atol=1e-5)
    used = [member_column(m) for m in product.used_members()]
    assert stored[used].notna().all().all()


def test_escape_sequences_stored_in_an_explanation_never_reach_the_terminal(trained_world):
    """A headline stored before imports stripped control characters still prints as text (issue 38, finding 8)."""
    from rich.console import Console

    from storm.cli.explain_cmd import run_explain

    config, world, store = trained_world
    layout = Layout(store)
    day = sorted(store.read_table(layout.prices(world.markets[0])).to_pandas()["date"])[-1]
    scan(config, start=day, end=day, publish=False)
    path = layout.explanations(day)
    stored = store.read_table(path).to_pandas()
    items = stored["kind"] == "item"
    stored.loc[items, "item"] = "\x1b]0;owned\x07\x1b[31mRED [/nope] " + stored.loc[items, "item"]
    store.write_table(path, stored)
    console = Console(width=100, record=True, color_system=None, force_terminal=False)
    assert run_explain(config, world.markets[0], day, 20, console=console) == 0
    text = console.export_text()
    assert "\x1b" not in text and "\x07" not in text
    assert "RED [/nope]" in text  # the text itself is kept, markup characters included


def test_the_nights_page_is_stored_beside_the_scores_and_lists_the_top_alerts_with_their_drivers(trained_world):
    config, world, store = trained_world
    layout = Layout(store)
    outcome = scan(config, publish=False)
    date, scores = world.end, outcome.scores[world.end]
    assert outcome.report_paths[date] == layout.night_report(date)
    stored = store.read_text(layout.night_report(date))
    page = PageReader(stored)
    summary = scan_summary(scores, date, outcome.stats[date].markets_missing, outcome.model_version)
    assert summary in "".join(page.text)
    assert sorted({row[0] for row in page.tables["scores-table"][1:]}) == sorted(world.markets)
    scan(config, publish=False)
    assert store.read_text(layout.night_report(date)) == stored  # a rerun writes the same page
    # two markets on alert, with the scan's own explanations: listed highest first, each with what drove it
    peaks = scores.groupby("market")["score"].max().sort_values(ascending=False)
    forced = scores.assign(alert=scores["market"].isin(peaks.index[:2]))
    page = PageReader(night_html(date, forced, outcome.explanations[date], summary))
    assert list(dict.fromkeys(row[0] for row in page.tables["alerts-table"][1:])) == list(peaks.index[:2])
    assert all(f"{market} 5d: driven by" in "".join(page.text) for market in peaks.index[:2])
