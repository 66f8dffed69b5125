"""What an import did: counts, the rows it rejected (file, line, reason) and the manifest it leaves in the store.

Rejected rows go to ``quarantine/imports/<kind>-<name>.jsonl`` and the manifest to
``raw/imports/<kind>-<name>.json``; both are written in a fixed order without clocks,
so a rerun of the same import writes the same bytes.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from storm.printable import printable
from storm.importing.rows import RowReject
from storm.importing.tickers import MarketNames
from storm.store import Layout, ObjectStore

MAX_REJECTS_KEPT = 10_000  # beyond this, one summary record per reason: a flood of bad lines stays small


@dataclass
class ImportReport:
    kind: str                                                 # prices, news, calls
    name: str                                                 # the import's name (its files in the store)
    counts: Counter = field(default_factory=Counter)          # what happened to rows: read, written, duplicates, …
    repairs: Counter = field(default_factory=Counter)         # what was repaired rather than rejected, and how often
    rejects: list[RowReject] = field(default_factory=list)
    rejects_by_reason: Counter = field(default_factory=Counter)
    markets: dict[str, str] = field(default_factory=dict)     # market name -> the vendor's spelling
    objects: list[str] = field(default_factory=list)          # store paths written
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)            # things a user should know (skipped tickers, …)
    names: MarketNames = field(default_factory=MarketNames)   # every ticker spelling met -> market name (one-to-one)

    def __post_init__(self) -> None:
        Layout.check_import_name(self.name)  # before the importer writes anything named by it

    def reject(self, source: str, line: int, reason: str, rows: int = 1) -> None:
        self.rejects_by_reason[_reason_kind(reason)] += rows
        if len(self.rejects) < MAX_REJECTS_KEPT:
            self.rejects.append(RowReject(source, int(line), reason, rows))

    def add_rejects(self, rejects: list[RowReject]) -> None:
        for item in rejects:
            self.reject(item.source, item.line, item.reason, item.rows)

    @property
    def rejected(self) -> int:
        return sum(self.rejects_by_reason.values())

    def manifest(self) -> dict:
        """What was imported from where; every string that came from the data is printable (no ESC sequences)."""
        return {"kind": self.kind, "name": self.name, "sources": [printable(s) for s in self.sources],
                "counts": dict(sorted(self.counts.items())), "repairs": dict(sorted(self.repairs.items())),
                "rejected": self.rejected,
                "rejected_by_reason": {printable(k): v for k, v in sorted(self.rejects_by_reason.items())},
                "markets": {market: printable(spelled) for market, spelled in sorted(self.markets.items())},
                "ticker_spellings": {printable(k): printable(v) for k, v in self.names.spellings().items()},
                "notes": [printable(note) for note in self.notes]}

    def write(self, store: ObjectStore, layout: Layout) -> tuple[str, str]:
        """The manifest and the rejected rows (an empty file when none), replacing an earlier run's."""
        manifest_path = layout.import_manifest(self.kind, self.name)
        quarantine_path = layout.import_quarantine(self.kind, self.name)
        rows = sorted(self.rejects, key=lambda r: (r.source, r.line, r.reason))
        lines = [{"source_path": printable(r.source), "line": r.line, "stage": "import", "source": self.kind,
                  "reason": printable(r.reason)} for r in rows]
        dropped = self.rejected - sum(r.rows for r in rows)
        if dropped:
            lines.append({"source_path": None, "line": None, "stage": "import", "source": self.kind,
                          "reason": f"{dropped} more rejected rows not listed (first {MAX_REJECTS_KEPT} kept)"})
        store.write_text(quarantine_path, "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
        store.write_text(manifest_path, json.dumps(self.manifest(), indent=2, ensure_ascii=False) + "\n")
        return manifest_path, quarantine_path


def _reason_kind(reason: str) -> str:
    """The reason without its particulars (the value, the count), for the per-reason counts."""
    return reason.split(" (", 1)[0].split(": ", 1)[0][:80]
