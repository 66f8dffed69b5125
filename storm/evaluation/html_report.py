"""The evaluation report as one page a person can open or share: report.html beside report.json.

Pure: the report (storm.evaluation.report) and its figures in, HTML out; storm.html_page lays it out and escapes
every value, and the runner writes it. The page holds the tables the console prints, the headline first (the
published score against every baseline per horizon, with 95% intervals), fused − prices only, the per-fold
figures, every test storm episode with each model's lead, and the plots, each captioned with what it shows and
why those markets.
"""

from __future__ import annotations

from dataclasses import dataclass

from storm.evaluation.plots import EPISODE_DAYS_AFTER, EPISODE_DAYS_BEFORE
from storm.evaluation.report import named_tables, reader_notes
from storm.html_page import PageFigure, PageTable, Section, page_table, render_page

HTML_NAME = "report.html"
HEADLINE_TABLE = "headline"  # the id of the headline table (AUROC of every model, with the reference's verdicts)


@dataclass(frozen=True)
class Shown:
    """What one figure draws: its subjects (markets, or storm episodes) out of how many there were."""

    subjects: list[str]
    out_of: int


def evaluation_html(report: dict, figures: dict[str, bytes], shown: dict[str, Shown] | None = None) -> str:
    """The whole page; ``figures``: PNG bytes by file name (as the runner writes them), ``shown``: what each draws."""
    shown = shown or {}
    episodes = report.get("episodes", {}).get(str(report["main_horizon"]), [])
    tables = {name: page_table(table, HEADLINE_TABLE if name == "auroc" else name)
              for name, table in named_tables(report, episodes_shown=max(len(episodes), 1)).items()}
    pictured = {name: PageFigure(key=name.removesuffix(".png").replace("_", "-"), png=png,
                                 caption=figure_caption(name, report, shown.get(name)), alt=name)
                for name, png in figures.items()}

    def picked(*names: str) -> tuple:
        return tuple(tables[name] for name in names if name in tables)

    def drawn(prefix: str) -> tuple[PageFigure, ...]:
        return tuple(figure for name, figure in pictured.items() if name.startswith(prefix))

    sections = [
        Section("Headline: the published score against every baseline", "headline-section",
                paragraphs=(_headline_paragraph(report),),
                tables=picked("auroc", "cross_sectional_auroc", "brier", "pr_auc_ece")),
        Section("What news and calls add", "evidence-section", paragraphs=_evidence_paragraphs(report),
                tables=picked("evidence", "contributions")),
        Section("Storm episodes and how early each model warned", "episodes-section",
                tables=picked("storms", "alerts", "episodes"), figures=drawn("episodes_")),
        Section("Per fold", "folds-section", tables=(_fold_table(report), *picked("spread", "stack"))),
        Section("Figures", "figures-section", figures=drawn("score_over_price_") + drawn("reliability")),
        Section("Notes", "notes-section", paragraphs=tuple(reader_notes(report)) + _method_paragraphs(report)),
    ]
    return render_page(f"storm evaluation: {report['run']}", _subtitle(report), sections)


def figure_caption(name: str, report: dict, shown: Shown | None) -> str:
    """What the figure ``name`` shows and why those markets, in a sentence or three."""
    h = report["main_horizon"]
    reference = report.get("reference") or "fused"
    baseline = report.get("best_price_baseline")
    if name.startswith("score_over_price_"):
        if shown is None:
            which = "the markets with the most storm days"
        elif len(shown.subjects) >= shown.out_of:
            which = f"all {shown.out_of} markets ({', '.join(shown.subjects)})"
        else:
            which = (f"the {len(shown.subjects)} of {shown.out_of} markets with the most {h}-day storm days in the "
                     f"test blocks ({', '.join(shown.subjects)}), where there was most to warn of")
        return (f"The fused model's {h}-day storm probability (red) over each market's close (black) through the "
                f"pooled test blocks, storm days shaded, days on alert dotted. Shown: {which}. A useful score rises "
                "before the shaded runs and stays low between them.")
    if name.startswith("episodes_"):
        which = f" ({'; '.join(shown.subjects)})" if shown else ""
        count = f"the {len(shown.subjects)} deepest of {shown.out_of}" if shown else "the deepest"
        models = " and ".join(m for m in (reference, baseline) if m)
        return (f"{count.capitalize()} {h}-day storm episodes of the test blocks{which}: the close from "
                f"{EPISODE_DAYS_BEFORE} trading days before each first storm day to {EPISODE_DAYS_AFTER} after, with "
                f"the {h}-day probability of {models}, each from its own fold's model. Deepest first: the largest "
                "falls are the ones a desk most needs warning of; the episodes table gives each model's lead in "
                "trading days.")
    if name.startswith("reliability"):
        against = f" and the best price baseline, {baseline} (dashed)" if baseline else ""
        return (f"Observed storm frequency against predicted probability on the pooled test blocks, one colour per "
                f"horizon, for {reference} (solid){against}. Every market pooled: a probability p should come true a "
                "share p of the time across the book, which is what the diagonal marks.")
    return name


def _subtitle(report: dict) -> str:
    tested = [fold["periods"].get("test", {}) for fold in report.get("folds", [])]
    period = (f"; test blocks {tested[0]['start']} to {tested[-1]['end']}"
              if tested and tested[0].get("start") and tested[-1].get("end") else "")
    world = f"{report['world']} world, " if report.get("world") else ""
    horizons = ", ".join(f"{h}" for h in report["horizons"])
    markets = f"{len(report['markets'])} markets, " if report.get("markets") else ""
    return (f"{world}{markets}{len(report.get('folds', []))} walk-forward folds{period}; storms within {horizons} "
            f"trading days (main horizon {report['main_horizon']})")


def _headline_paragraph(report: dict) -> str:
    reference = report.get("reference")
    who = {"storm": "storm, the published score (the stacked product),", "fused": "fused, the neural model,"}.get(
        reference, f"{reference}")
    judged = [h for h, storms in report.get("storms", {}).items() if storms["judged"]]
    return (f"Every model and baseline per horizon, each figure with its 95% paired block-bootstrap interval; {who} "
            "is the reference: it is called better or worse than a model only where the interval of the difference "
            "excludes 0" + (f" (judged at {', '.join(f'{h}d' for h in judged)})." if judged else
                            "; no horizon holds enough storm episodes to judge."))


def _evidence_paragraphs(report: dict) -> tuple[str, ...]:
    if report.get("evidence_gain"):
        return ("fused − only-prices: the same model with and without the news and calls, on the same rows.",)
    if report.get("reference") == "fused" and "only-prices" in report.get("models", {}):
        return ("fused is the reference here: fused − only-prices is the only-prices row of the headline tables.",)
    return ("This run has no prices-only model to compare the fused model with (a prices-only model, or "
            "--skip-single-modality).",)


def _fold_table(report: dict) -> PageTable:
    """Each model's within-fold AUROC and Brier on each fold's own test block, per horizon."""
    folds = [fold["periods"].get("name", f"fold{i + 1}") for i, fold in enumerate(report.get("folds", []))]
    headers = ("model", "h", *(f"{name} AUROC" for name in folds), *(f"{name} Brier" for name in folds))
    sections = []
    for h in report["horizons"]:
        models = list(report["headline"][str(h)])
        rows = []
        for model in models:
            figures = [fold["metrics"].get(str(h), {}).get(model, {}) for fold in report["folds"]]
            rows.append((model, f"{h}d", *(_figure(f.get("auroc"), "{:.3f}") for f in figures),
                         *(_figure(f.get("brier"), "{:.4f}") for f in figures)))
        sections.append(tuple(rows))
    return PageTable(key="per-fold", title="AUROC and Brier on each fold's own test block",
                     caption="– : not defined on that block (no storm, or the model did not score it)",
                     headers=headers, right_aligned=tuple(i > 0 for i in range(len(headers))),
                     sections=tuple(sections))


def _method_paragraphs(report: dict) -> tuple[str, ...]:
    bootstrap = report.get("bootstrap", {})
    method = (f"Intervals: {bootstrap['method']}; {bootstrap['resamples']} resamples, blocks of "
              f"{bootstrap['block_days']} test dates, {bootstrap['n_markets']} markets x {bootstrap['n_dates']} "
              "dates." if bootstrap.get("method") else "")
    definitions = tuple(f"{name}: {text}." for name, text in report.get("metric_definitions", {}).items())
    return ((method,) if method else ()) + definitions


def _figure(value, fmt: str) -> str:
    return "–" if value is None else fmt.format(value)
