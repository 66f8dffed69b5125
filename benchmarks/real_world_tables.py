"""README's real-world tables, printed as Markdown from the reports `storm evaluate` wrote (nothing recomputed).

    .venv/bin/python benchmarks/real_world_tables.py WORLD=REPORT.json [WORLD=REPORT.json ...]

e.g. stocknet=/work/worlds/stocknet/reports/stocknet/report.json. Four tables: the verdicts per world and horizon
(test episodes, the product against the best baseline, what news and calls add), every model's within-fold AUROC,
how early the product and the best baseline warned before the storms at the main horizon, and per fold what the
stack shipped, why (its validation gain over the best member), and the product against the best baseline on that
fold's test block: where a world falls short of the best baseline, which member and which folds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def interval(figure: dict | None, fmt: str = "{:+.3f}") -> str:
    if not figure or figure.get("estimate") is None:
        return "–"
    if figure.get("low") is None:
        return fmt.format(figure["estimate"])
    return f"{fmt.format(figure['estimate'])} [{fmt.format(figure['low'])}, {fmt.format(figure['high'])}]"


def verdict(figure: dict | None, storms: dict) -> str:
    if not storms["judged"]:
        return f"too few storms to judge ({storms['n_episodes']} episodes)"
    return {"better": "better", "worse": "**worse**", "not distinguishable": "n.d."}.get((figure or {}).get("verdict"), "–")


def best_baseline(report: dict, horizon: str) -> str | None:
    baselines = [name for name, model in report["models"].items() if model["kind"] == "baseline"]
    ranked = [name for name in baselines if report["headline"][horizon][name]["auroc"] is not None]
    return max(ranked, key=lambda name: report["headline"][horizon][name]["auroc"]) if ranked else None


def verdict_table(reports: dict[str, dict]) -> list[str]:
    lines = ["| world | h | test episodes (per fold) | storm AUROC | best baseline | storm − it | "
             "fused − prices only |", "|---|---|---|---|---|---|---|"]
    for world, report in reports.items():
        reference = report["reference"]
        for horizon in map(str, report["horizons"]):
            storms, headline = report["storms"][horizon], report["headline"][horizon]
            baseline = best_baseline(report, horizon)
            versus = report["versus_reference"][horizon].get(baseline, {}).get("auroc") if baseline else None
            evidence = (report.get("evidence_gain", {}).get(horizon, {}) or
                        report["versus_reference"][horizon].get("only-prices", {})).get("auroc")
            per_fold = " / ".join(str(k) for k in storms["per_fold"].values())
            lines.append(
                f"| {world} | {horizon}d | {storms['n_episodes']} ({per_fold}) | "
                f"{interval(headline[reference]['intervals']['auroc'], '{:.3f}')} | "
                f"{baseline} {headline[baseline]['auroc']:.3f} | {interval(versus)} {verdict(versus, storms)} | "
                f"{interval(evidence)} {verdict(evidence, storms) if evidence else ''} |")
    return lines


def model_table(reports: dict[str, dict]) -> list[str]:
    names = []
    for report in reports.values():
        names += [name for name in report["models"] if name not in names and report["models"][name]["kind"] != "oracle"]
    lines = ["| model | " + " | ".join(reports) + " |", "|---|" + "---|" * len(reports)]
    for name in names:
        cells = []
        for report in reports.values():
            figures = [report["headline"][str(h)].get(name, {}).get("auroc") for h in report["horizons"]]
            cells.append(" / ".join("–" if f is None else f"{f:.3f}" for f in figures) if any(figures) else "–")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def lead_table(reports: dict[str, dict]) -> list[str]:
    lines = ["| world | h | episodes | model | warned | median lead (trading days) | false alarms per market-year |",
             "|---|---|---|---|---|---|---|"]
    for world, report in reports.items():
        horizon = str(report["main_horizon"])
        episodes = report["episodes"][horizon]
        for name in (report["reference"], best_baseline(report, horizon)):
            figures = report["headline"][horizon][name]
            leads = [e["lead_days"].get(name) for e in episodes]
            warned = [lead for lead in leads if lead is not None]
            median = sorted(warned)[len(warned) // 2] if warned else None
            false_alarms = figures["false_alarms_per_market_year"]
            lines.append(f"| {world} | {horizon}d | {len(episodes)} | {name} | {len(warned)} | "
                         f"{'–' if median is None else f'{median:+.0f}'} | "
                         f"{'–' if false_alarms is None else f'{false_alarms:.1f}'} |")
    return lines


def stack_table(reports: dict[str, dict]) -> list[str]:
    lines = ["| world | h | fold | test episodes | shipped | judging rows: best member, stack − it | "
             "test: product | best baseline | product − it |", "|---|---|---|---|---|---|---|---|---|"]
    for world, report in reports.items():
        reference = report["reference"]
        for horizon in map(str, report["horizons"]):
            baseline = best_baseline(report, horizon)
            for fold in report["folds"]:
                name = fold["periods"]["name"]
                stack = report.get("stack", {}).get(name, {}).get(horizon)
                if not stack or baseline is None:
                    continue
                test = fold["metrics"][horizon]
                product, best = test[reference]["auroc"], test[baseline]["auroc"]
                episodes = fold["periods"]["storm_episodes"]["test"][horizon]
                chosen = judging_cell(stack)
                difference = "–" if product is None or best is None else f"{product - best:+.3f}"
                lines.append(f"| {world} | {horizon}d | {name} | {episodes} | {stack['shipped']} | {chosen} | "
                             f"{'–' if product is None else f'{product:.3f}'} | {baseline} "
                             f"{'–' if best is None else f'{best:.3f}'} | {difference} |")
    return lines


def judging_cell(stack: dict) -> str:
    """The best member on the judging rows (earlier folds' tests; fold 1: validation) and the stack's gain over it,
    or why no gain was measured."""
    best, gain = stack.get("best_member", "–"), stack.get("gain") or {}
    if gain.get("estimate") is not None:
        return f"{best} {stack['member_aurocs'][best]:.3f}, {interval(gain)}"
    if "episodes" in gain:
        return f"{best} ({gain['episodes']} judging episodes: too few)"
    return f"{best} (no stack fitted)"


def news_gain_table(reports: dict[str, dict]) -> list[str]:
    """What news and calls add, reader by reader: fused − only-prices and the report's news_gains, per horizon."""
    lines = ["| world | h | fused − prices only | evidence-logit − price-logit | boosted-evidence − boosted |",
             "|---|---|---|---|---|"]
    for world, report in reports.items():
        gains = report.get("news_gains", {})
        for horizon in map(str, report["horizons"]):
            storms = report["storms"][horizon]
            cells = [report.get("evidence_gain", {}).get(horizon, {}).get("auroc"),
                     gains.get("evidence-logit − price-logit", {}).get(horizon, {}).get("auroc"),
                     gains.get("boosted-evidence − boosted", {}).get(horizon, {}).get("auroc")]
            lines.append(f"| {world} | {horizon}d | " + " | ".join(
                "–" if cell is None else f"{interval(cell)} {verdict(cell, storms)}" for cell in cells) + " |")
    return lines


def main() -> None:
    reports = {}
    for argument in sys.argv[1:]:
        world, path = argument.split("=", 1)
        reports[world] = json.loads(Path(path).read_text())
    for table in (verdict_table(reports), model_table(reports), lead_table(reports), stack_table(reports),
                  news_gain_table(reports)):
        print("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
