"""The storm Grafana dashboard, as code (grafana-foundation-sdk).

Run `python infra/grafana/build_dashboard.py` after changing it: it rewrites
infra/grafana/dashboards/storm.json, the bare dashboard JSON that Grafana
provisions (provisioning/dashboards/storm.yml). Queries use the fixed
datasource uid of provisioning/datasources/prometheus.yml and metric names
from storm.metrics.contract; tests/infra checks the JSON is in sync.
"""

from __future__ import annotations

import json
from pathlib import Path

from grafana_foundation_sdk.builders import bargauge, dashboard, prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import BigValueGraphMode, VizOrientation
from grafana_foundation_sdk.models.dashboard import DataSourceRef, Threshold, ThresholdsMode
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from storm.metrics import contract as m

DATASOURCE = DataSourceRef(type_val="prometheus", uid="storm-prometheus")
DASHBOARD_UID = "storm-overview"
OUTPUT = Path(__file__).parent / "dashboards" / "storm.json"
STALE_AFTER_SECONDS = 86400 + 7200  # same slack as the StormScanStale rule

ACTIVE_ALERTS = f"{m.ALERT_SCORE} > on (job, horizon) group_left {m.ALERT_THRESHOLD}"
WHY_ALERTING = f"{m.ALERT_CONTRIBUTION} and on (job, market, horizon) ({m.ALERT_ACTIVE} == 1)"
SINCE_LAST_SUCCESS = f"time() - max({m.SCAN_LAST_SUCCESS})"


def query(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> prometheus.Dataquery:
    built = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE).legend_format(legend or "__auto")
    if instant:
        built = built.instant().format(PromQueryFormat.TABLE)
    return built


def steps(*pairs: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    return dashboard.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(
        [Threshold(value=value, color=color) for value, color in pairs])


def scores_panel() -> timeseries.Panel:
    return (timeseries.Panel().title("Storm score by market, with thresholds").datasource(DATASOURCE)
            .description("Calibrated probability of a fall of 10%+ within each horizon; dashed lines: thresholds.")
            .with_target(query(m.ALERT_SCORE, "{{market}} {{horizon}}d", "A"))
            .with_target(query(m.ALERT_THRESHOLD, "threshold {{horizon}}d", "B"))
            .unit("percentunit").min(0).max(1).height(9).span(16))


def markets_in_alert_panel() -> stat.Panel:
    return (stat.Panel().title("Market-horizons in alert").datasource(DATASOURCE)
            .with_target(query(f"sum({m.ALERT_ACTIVE})"))
            .thresholds(steps((None, "green"), (1, "red"))).graph_mode(BigValueGraphMode.NONE).height(9).span(8))


def active_alerts_panel() -> table.Panel:
    return (table.Panel().title("Current alerts (score above threshold)").datasource(DATASOURCE)
            .with_target(query(ACTIVE_ALERTS, "", "A", instant=True)).height(8).span(12))


def why_alerting_panel() -> bargauge.Panel:
    return (bargauge.Panel().title("Why is it alerting").datasource(DATASOURCE)
            .description("Per market and horizon on alert, in probability (exact Shapley values). A stacked score: "
                         "each member's share (modality=all: trail-vol, garch, price-logit, boosted, fused; they add "
                         "up to score minus every member at its mean). Inside the neural member (member=fused): how "
                         "much news, prices (chart) and calls added to its own score. `storm explain --market M "
                         "--date D` names the members, headlines, price readings and calls.")
            .with_target(query(WHY_ALERTING, "{{market}} {{horizon}}d {{member}} {{modality}}", "A"))
            .orientation(VizOrientation.HORIZONTAL).unit("percentunit").min(-1).max(1).height(8).span(12))


def freshness_panel() -> stat.Panel:
    return (stat.Panel().title("Since last successful scan").datasource(DATASOURCE)
            .with_target(query(SINCE_LAST_SUCCESS)).unit("s")
            .thresholds(steps((None, "green"), (STALE_AFTER_SECONDS, "red"))).graph_mode(BigValueGraphMode.NONE)
            .height(5).span(6))


def duration_panel() -> stat.Panel:
    return (stat.Panel().title("Scan duration").datasource(DATASOURCE)
            .with_target(query(m.SCAN_DURATION)).unit("s").height(5).span(6))


def as_of_panel() -> stat.Panel:
    return (stat.Panel().title("Scored trading date").datasource(DATASOURCE)
            .with_target(query(f"max({m.SCAN_AS_OF}) * 1000")).unit("dateTimeAsIsoNoDateIfToday")
            .graph_mode(BigValueGraphMode.NONE).height(5).span(6))


def markets_missing_panel() -> stat.Panel:
    return (stat.Panel().title("Markets not scored").datasource(DATASOURCE)
            .with_target(query(m.SCAN_MARKETS_MISSING))
            .thresholds(steps((None, "green"), (1, "orange"))).graph_mode(BigValueGraphMode.NONE).height(5).span(6))


def inputs_panel() -> bargauge.Panel:
    return (bargauge.Panel().title("Scan inputs: ok / quarantined / missing").datasource(DATASOURCE)
            .with_target(query(m.SCAN_INPUTS, "{{modality}} {{status}}", "A"))
            .orientation(VizOrientation.HORIZONTAL).height(8).span(12))


def model_panel() -> table.Panel:
    return (table.Panel().title("Model in use").datasource(DATASOURCE)
            .with_target(query(m.MODEL_INFO, "", "A", instant=True)).height(8).span(12))


def build_dashboard() -> dict:
    """The dashboard as the plain dict Grafana provisions."""
    board = (dashboard.Dashboard("storm — market storm early warning").uid(DASHBOARD_UID)
             .tags(["storm", "ray"]).time("now-30d", "now").refresh("5m").timezone("utc")
             .with_row(dashboard.Row("Alerts"))
             .with_panel(scores_panel()).with_panel(markets_in_alert_panel())
             .with_panel(active_alerts_panel()).with_panel(why_alerting_panel())
             .with_row(dashboard.Row("Nightly scan"))
             .with_panel(freshness_panel()).with_panel(duration_panel())
             .with_panel(as_of_panel()).with_panel(markets_missing_panel())
             .with_panel(inputs_panel()).with_panel(model_panel()))
    return json.loads(json.dumps(board.build(), cls=JSONEncoder))


def render() -> str:
    return json.dumps(build_dashboard(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(render())
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
