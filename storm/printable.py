"""Text from data without the characters that act on a terminal, so a headline or a name can be printed safely.

A headline, a call's sentence or a vendor's ticker is data, and data can hold ESC sequences (colours, cursor
moves, a window title, a hyperlink), other C0/C1 controls or bidirectional overrides that would act on the
terminal of whoever prints it later (`storm explain`, `storm scan`, `cat` of a manifest). Importers store the
text without them: whole escape sequences and other controls are dropped, line breaks and tabs become a space
so words stay apart.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

_ESCAPE_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"                            # CSI: colours, cursor moves, erasing
    r"|(?:\x1b[P\]X^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC/DCS/…: titles, links
    r"|\x1b[ -/]*[0-~]?"                                            # any other ESC sequence, or a lone ESC
)
_SPACING = re.compile(r"[\t\n\v\f\r\x85\u2028\u2029]+")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+")


def printable(text: str) -> str:
    """``text`` with escape sequences and controls dropped and line breaks as spaces (unchanged when clean)."""
    if text.isprintable():
        return text
    return _CONTROLS.sub("", _SPACING.sub(" ", _ESCAPE_SEQUENCES.sub("", text)))


def printable_column(values: pd.Series) -> pd.Series:
    """``printable`` of each string of a column; missing values stay missing."""
    return values.map(lambda value: printable(value) if isinstance(value, str) else value)
