"""The object store: where it is (local directory or S3) and what lives where.

Names are loaded on first use, so a module that needs only the layout's names (suffixes, sources) does not load
fsspec, pyarrow and pandas with the store itself.
"""

from __future__ import annotations

import importlib

_OWNERS = {"Layout": "storm.store.layout", **dict.fromkeys(
    ("Listing", "NotARegularFile", "ObjectStore", "PathOutsideStore", "TableTooLarge", "open_store"),
    "storm.store.objectstore")}
__all__ = sorted(_OWNERS)


def __getattr__(name: str):
    if name in _OWNERS:
        return getattr(importlib.import_module(_OWNERS[name]), name)
    raise AttributeError(f"module 'storm.store' has no attribute {name!r}")
