"""Keeping secrets out of messages: URL credentials and known secret values.

Every message a user or a log can see that may hold a URL or a configured
secret goes through `redact` first.
"""

from __future__ import annotations

import re
from typing import Iterable

MASK = "***"
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<credentials>[^/?#@\s]+)@")


def redact_url_credentials(text: str) -> str:
    """`http://user:pass@host/…` → `http://***@host/…`, wherever it appears in text."""
    return _URL_CREDENTIALS.sub(lambda found: f"{found.group('scheme')}{MASK}@", text)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """text without URL credentials and without any of the given secret values (longest first)."""
    cleaned = redact_url_credentials(text)
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        cleaned = cleaned.replace(secret, MASK)
    return cleaned
