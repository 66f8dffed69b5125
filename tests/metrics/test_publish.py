"""publish / `storm metrics push`: textfile always, pushadd to a real Pushgateway with retries, republish from storage."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from typer.testing import CliRunner

from metrics_samples import SCAN_DATE, make_scores, make_stats
from servers import free_port
from storm.cli import app
from storm.config import MetricsConfig, StorageConfig
from storm.metrics import PushFailed, build_registry, publish, with_textfile, write_scan_stats
from storm.metrics import contract
from storm.store import Layout, open_store


def pushgateway_samples(url: str) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples if s.name.startswith("storm_")}


def named(samples: dict, name: str) -> dict:
    return {labels: v for (n, labels), v in samples.items() if n == name}


def test_without_pushgateway_publish_writes_only_the_textfile(tmp_path, scores, stats):
    metrics = MetricsConfig(textfile=str(tmp_path / "out" / "storm.prom"))
    result = publish(build_registry(scores, stats, {}), metrics)
    assert result.pushed is False and result.attempts == 0
    text = (tmp_path / "out" / "storm.prom").read_text()
    assert 'storm_alert_score{horizon="20",market="SPX"} 0.8' in text


def test_metrics_push_without_a_textfile_path_writes_under_the_stores_root_not_the_current_folder(tmp_path,
                                                                                                    monkeypatch):
    storage = StorageConfig(root=str(tmp_path / "store"))
    store = open_store(storage)
    layout = Layout(store)
    store.write_table(layout.scores(SCAN_DATE), make_scores(SCAN_DATE))
    write_scan_stats(store, layout, make_stats(SCAN_DATE))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = CliRunner().invoke(app, ["metrics", "push", "--date", SCAN_DATE, "--set", f"storage.root={storage.root}"])
    assert result.exit_code == 0, result.output
    textfile = tmp_path / "store" / "metrics" / "storm-metrics.prom"
    assert 'storm_alert_score{horizon="20",market="SPX"} 0.8' in textfile.read_text()
    assert str(textfile) in result.output.replace("\n", "") and not list((tmp_path / "elsewhere").iterdir())


def test_a_textfile_path_given_is_kept_and_an_s3_store_keeps_the_current_folder(tmp_path, s3_storage):
    local = Layout(open_store(StorageConfig(root=str(tmp_path / "store"))))
    given = MetricsConfig(textfile=str(tmp_path / "mine.prom"))
    assert with_textfile(given, local) == given
    assert with_textfile(MetricsConfig(), local).textfile == local.metrics_textfile()
    assert with_textfile(MetricsConfig(), Layout(open_store(s3_storage))).textfile == "storm-metrics.prom"


def test_publishing_with_no_textfile_settled_is_refused_saying_how_to_settle_it(scores, stats):
    with pytest.raises(ValueError, match="with_textfile"):
        publish(build_registry(scores, stats, {}), MetricsConfig())


def test_push_lands_in_the_job_group_of_the_pushgateway(metrics_config, pushgateway, scores, stats):
    result = publish(build_registry(scores, stats, {}), metrics_config, date=SCAN_DATE)
    assert result.pushed and result.attempts == 1
    scores_pushed = named(pushgateway_samples(pushgateway.url), contract.ALERT_SCORE)
    spx_20 = (("horizon", "20"), ("instance", ""), ("job", metrics_config.job_name), ("market", "SPX"))
    assert scores_pushed[spx_20] == pytest.approx(0.8)


def test_push_to_a_dead_pushgateway_retries_with_backoff_then_fails_keeping_the_textfile(tmp_path, scores, stats):
    metrics = MetricsConfig(pushgateway_url=f"http://127.0.0.1:{free_port()}", textfile=str(tmp_path / "storm.prom"),
                            push_retries=3, push_backoff_seconds=0.5)
    waits: list[float] = []
    with pytest.raises(PushFailed) as failure:
        publish(build_registry(scores, stats, {}), metrics, date=SCAN_DATE, sleep=waits.append)
    assert waits == [0.5, 1.0, 2.0]
    assert f"storm metrics push --date {SCAN_DATE}" in str(failure.value)
    assert "4 time(s)" in str(failure.value) and metrics.pushgateway_url in str(failure.value)
    assert contract.SCAN_LAST_SUCCESS in (tmp_path / "storm.prom").read_text()


def test_failed_push_can_be_redone_from_stored_scores_with_the_cli(tmp_path, pushgateway, metrics_config):
    storage = StorageConfig(root=str(tmp_path / "store"))
    store = open_store(storage)
    layout = Layout(store)
    date = "2024-03-18"
    store.write_table(layout.scores(date), make_scores(date))
    write_scan_stats(store, layout, make_stats(date, finished_at=1_710_800_000.0))

    result = CliRunner().invoke(app, [
        "metrics", "push", "--date", date, "--set", f"storage.root={storage.root}",
        "--set", f"metrics.pushgateway_url={pushgateway.url}", "--set", f"metrics.textfile={metrics_config.textfile}",
    ])
    assert result.exit_code == 0, result.output
    pushed = pushgateway_samples(pushgateway.url)
    assert list(named(pushed, contract.SCAN_LAST_SUCCESS).values()) == [1_710_800_000.0]
    assert list(named(pushed, contract.SCAN_AS_OF).values()) == [contract.as_of_timestamp(date)]


def test_republish_without_stored_stats_keeps_the_last_success_already_pushed(pushgateway, metrics_config, scores, stats):
    publish(build_registry(scores, stats, {}), metrics_config)
    publish(build_registry(scores, None, {}), metrics_config)  # pushadd: only the metrics sent are replaced
    pushed = pushgateway_samples(pushgateway.url)
    assert list(named(pushed, contract.SCAN_LAST_SUCCESS).values()) == [stats.finished_at]


def test_push_of_a_date_never_scanned_says_how_to_scan_it(tmp_path):
    result = CliRunner().invoke(app, ["metrics", "push", "--date", "2024-01-02",
                                      "--set", f"storage.root={tmp_path / 'store'}"])
    assert result.exit_code == 1
    assert "no scores for 2024-01-02" in result.output and "storm scan" in result.output


S3CRET_BCRYPT = "$2b$04$tmFJ8dXFLMu1/BKU3x3to.KREyLCo4HEBiBtmSeVtnBDOqhojoLxS"  # bcrypt("s3cret"), cost 4


def test_push_to_a_pushgateway_behind_basic_auth_uses_the_configured_credentials(tmp_path, scores, stats):
    from servers import pushgateway_server

    with pushgateway_server(tmp_path, basic_auth_users={"storm": S3CRET_BCRYPT}) as guarded:
        wrong = MetricsConfig(pushgateway_url=guarded.url, textfile=str(tmp_path / "a.prom"), push_retries=0,
                              pushgateway_username="storm", pushgateway_password="wrong")
        with pytest.raises(PushFailed, match="401"):
            publish(build_registry(scores, stats, {}), wrong)
        right = wrong.model_copy(update={"pushgateway_password": SecretStr("s3cret")})
        assert publish(build_registry(scores, stats, {}), right).pushed


def test_a_candidate_run_publishes_under_its_own_grouping_key_and_textfile(tmp_path, pushgateway, metrics_config,
                                                                         scores, stats):
    publish(build_registry(scores, stats, {}), metrics_config)
    candidate_scores = scores.assign(score=0.01)
    result = publish(build_registry(candidate_scores, stats, {}), metrics_config, candidate="challenger")
    assert result.textfile != str(Path(metrics_config.textfile).resolve()) and not result.textfile.endswith(".prom")
    assert 'storm_alert_score{horizon="20",market="SPX"} 0.01' in Path(result.textfile).read_text()
    assert 'storm_alert_score{horizon="20",market="SPX"} 0.8' in Path(metrics_config.textfile).read_text()
    pushed = named(pushgateway_samples(pushgateway.url), contract.ALERT_SCORE)
    production = (("horizon", "20"), ("instance", ""), ("job", metrics_config.job_name), ("market", "SPX"))
    candidate = (("candidate", "challenger"), *production)
    assert pushed[production] == pytest.approx(0.8) and pushed[candidate] == pytest.approx(0.01)


def test_a_failed_push_message_never_shows_url_credentials_or_the_password(tmp_path, scores, stats):
    metrics = MetricsConfig(pushgateway_url=f"http://storm:urlpass@127.0.0.1:{free_port()}", push_retries=0,
                            textfile=str(tmp_path / "storm.prom"), pushgateway_username="storm",
                            pushgateway_password="configpass")
    with pytest.raises(PushFailed) as failure:
        publish(build_registry(scores, stats, {}), metrics, sleep=lambda _: None)
    message = str(failure.value)
    assert "urlpass" not in message and "configpass" not in message and "http://***@127.0.0.1" in message
    assert failure.value.__cause__ is None and failure.value.__suppress_context__


def test_a_pushgateway_answering_a_bad_status_line_is_a_push_failure_not_a_crash(tmp_path, scores, stats):
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def answer_garbage() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                connection.sendall(b"NOT-HTTP garbage\r\n\r\n")

    threading.Thread(target=answer_garbage, daemon=True).start()
    metrics = MetricsConfig(pushgateway_url=f"http://127.0.0.1:{listener.getsockname()[1]}",
                            textfile=str(tmp_path / "storm.prom"), push_retries=1, push_backoff_seconds=0.0)
    try:
        with pytest.raises(PushFailed, match="BadStatusLine") as failure:
            publish(build_registry(scores, stats, {}), metrics, date=SCAN_DATE, sleep=lambda _: None)
    finally:
        listener.close()
    assert "2 time(s)" in str(failure.value)


@pytest.mark.parametrize("url", ["gw-without-scheme:9091", "ftp://gw:9091", "http://gw:notaport"])
def test_a_malformed_pushgateway_url_is_a_push_failure_at_once(tmp_path, scores, stats, url):
    metrics = MetricsConfig(pushgateway_url=url, textfile=str(tmp_path / "storm.prom"), push_retries=3)
    waits: list[float] = []
    with pytest.raises(PushFailed, match="failed") as failure:
        publish(build_registry(scores, stats, {}), metrics, date=SCAN_DATE, sleep=waits.append)
    assert f"storm metrics push --date {SCAN_DATE}" in str(failure.value)
    assert contract.SCAN_LAST_SUCCESS in (tmp_path / "storm.prom").read_text()
