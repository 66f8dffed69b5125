"""The object store: where it is (local directory or S3) and what lives where."""

from storm.store.layout import Layout
from storm.store.objectstore import Listing, NotARegularFile, ObjectStore, PathOutsideStore, TableTooLarge, open_store

__all__ = ["Layout", "Listing", "NotARegularFile", "ObjectStore", "PathOutsideStore", "TableTooLarge", "open_store"]
