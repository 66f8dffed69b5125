"""The one rejection type of ingest, and how any exception becomes a reason a user can act on."""

from __future__ import annotations


class RejectedInput(ValueError):
    """A raw item that must go to quarantine; ``reason`` is the human-readable why (never empty)."""

    def __init__(self, reason: str):
        reason = reason.strip() or "rejected without a stated reason"
        super().__init__(reason)
        self.reason = reason


def describe(err: BaseException) -> str:
    """``Type: message`` of an exception, never empty even when its message is."""
    message = str(err).strip()
    return f"{type(err).__name__}: {message}" if message else type(err).__name__
