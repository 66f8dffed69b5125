"""Filesystem access to the object store, local or S3-compatible, with atomic writes.

Every job gets its filesystem from here, so endpoint and credentials are set
in one place and never logged. Ray Data and pyarrow take ``store.fs`` (an
fsspec filesystem) or ``store.arrow_fs`` as ``filesystem=``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import posixpath
import stat
import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable
from urllib.parse import urlparse

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from storm.config import StorageConfig
from storm.redact import redact_url_credentials
from storm.store.bounded_parquet import TableTooLarge, read_bounded  # noqa: F401 - TableTooLarge: read_table raises it


class PathOutsideStore(ValueError):
    """A name would have made a path outside the store's root (another folder, or on S3 another bucket)."""


class NotARegularFile(ValueError):
    """A local store entry that is no regular file (a symbolic link, FIFO, device, socket): never read."""


@dataclass(frozen=True)
class Listing:
    """What lies under a prefix: regular files with their sizes, and entries refused without being read."""

    files: dict[str, int]  # path -> size in bytes
    refused: dict[str, str]  # path -> why it is not read (e.g. "a symbolic link", "a FIFO")


@dataclass(frozen=True)
class ObjectStore:
    """A rooted view of one filesystem: ``path("raw", "news")`` is a path ``fs`` understands."""

    fs: fsspec.AbstractFileSystem
    root: str  # path inside fs, no scheme: "/abs/dir" locally, "bucket/prefix" on S3
    scheme: str  # "file" or "s3"
    lease_stale_seconds: float = 900.0  # storage.lease_stale_seconds (storm.scan.score_store)

    @property
    def uri(self) -> str:
        return self.root if self.scheme == "file" else f"{self.scheme}://{self.root}"

    @property
    def is_local(self) -> bool:
        return self.scheme == "file"

    @cached_property
    def arrow_fs(self) -> pafs.FileSystem:
        if self.is_local:
            return pafs.LocalFileSystem()
        return pafs.PyFileSystem(pafs.FSSpecHandler(self.fs))

    def path(self, *parts: str) -> str:
        """root/part/…, refused (PathOutsideStore) if a part is absolute or climbs with '..'.

        On S3 the root's first segment is the bucket, so this also keeps every
        write in the configured bucket and prefix.
        """
        for part in parts:
            if not isinstance(part, str) or part.startswith("/") or "\0" in part or ".." in part.split("/"):
                raise PathOutsideStore(f"path part {part!r} would leave the object store root {self.uri}; "
                                       "use a plain name (no leading '/', no '..')")
        joined = posixpath.join(self.root, *parts)
        if not self.contains(joined):
            raise PathOutsideStore(f"path {joined!r} is not under the object store root {self.uri}")
        return joined

    def contains(self, path: str) -> bool:
        """Whether path lies under the root (after normalising '..' and '.'; locally also after resolving links)."""
        if not _under(posixpath.normpath(path), posixpath.normpath(self.root)):
            return False
        return not self.is_local or _under(os.path.realpath(path), self._real_root)

    @cached_property
    def _real_root(self) -> str:
        return os.path.realpath(self.root)

    def exists(self, path: str) -> bool:
        return self.fs.exists(path)

    def read_bytes(self, path: str) -> bytes:
        with self._open_to_read(path) as handle:
            return handle.read()

    def _open_to_read(self, path: str):
        """A binary handle on path; locally only a regular file whose real path lies under the root."""
        if not self.is_local:
            return self.fs.open(path, "rb")
        self._check_inside(path)
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as err:
            if os.path.islink(path):
                raise NotARegularFile(f"{path} is a symbolic link; the store reads regular files only") from None
            raise err
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            os.close(descriptor)
            raise NotARegularFile(f"{path} is {_kind_of(mode)}, not a regular file; the store reads regular files only")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")

    def _check_inside(self, path: str) -> None:
        """Locally: refuse a path whose folders lead outside the root through a symbolic link."""
        if self.is_local and not _under(os.path.realpath(os.path.dirname(path)), self._real_root):
            raise PathOutsideStore(f"{path} leads outside the object store root {self.uri} through a symbolic link; "
                                   "replace the link with a real folder")

    def write_bytes(self, path: str, payload: bytes) -> None:
        """Write so that no reader ever sees half a file.

        Locally: a temporary sibling then an atomic rename. On S3 a single PUT
        is atomic: the object appears whole or not at all.
        """
        if self.is_local:
            self._check_inside(path)
            os.replace(_durable_sibling(path, payload), path)
            sync_folder(os.path.dirname(path))  # the rename itself survives a power cut
        else:
            self.fs.pipe_file(path, payload)

    def create_exclusive(self, path: str, payload: bytes) -> bool:
        """Create path with payload only if it does not exist yet; False (nothing written) if it does.

        The first of several concurrent writers wins, whole: locally a complete
        temporary sibling is hard-linked into place (link fails if the name
        exists, like O_EXCL); on S3 a conditional PUT (If-None-Match: *).
        """
        return self.write_if(path, payload, None) is not None

    def version_of(self, path: str) -> str | None:
        """What identifies path's current content (on S3 its ETag, locally a SHA-256 of it); None if absent.

        Never answered from a cached listing: conditional writes compare against it.
        """
        if not self.is_local:
            self.fs.invalidate_cache(path)
            try:
                return self.fs.info(path).get("ETag")
            except FileNotFoundError:
                return None
        try:
            return _content_version(self.read_bytes(path))
        except FileNotFoundError:
            return None

    def read_versioned(self, path: str) -> tuple[bytes, str] | None:
        """path's bytes with the version they are (see version_of), read together; None if absent.

        On S3 the body is fetched with If-Match on the ETag just seen, so the pair never mixes two writes.
        """
        if self.is_local:
            try:
                payload = self.read_bytes(path)
            except FileNotFoundError:
                return None
            return payload, _content_version(payload)
        failure = None
        for _ in range(_CHANGED_WHILE_READ_RETRIES):
            self.fs.invalidate_cache(path)
            try:
                with self.fs.open(path, "rb") as handle:
                    return handle.read(), handle.details["ETag"]
            except FileNotFoundError:
                return None
            except OSError as err:  # 412 when replaced between the HEAD and the GET: read the new one
                failure = err
        raise failure

    def write_if(self, path: str, payload: bytes, expected: str | None) -> str | None:
        """Compare-and-swap: write payload only if path is still at version `expected` (None: only if absent).

        Returns the new version, or None when path had changed (nothing written). Locally the compare and the
        rename happen under an exclusive lock on the folder; on S3 one conditional PUT (If-Match: <ETag>, or
        If-None-Match: * to create).
        """
        if self.is_local:
            return self._write_if_local(path, payload, expected)
        if len(payload) >= _MAX_SINGLE_PUT_BYTES:
            raise ValueError(f"{path}: {len(payload)} bytes is over one S3 PUT ({_MAX_SINGLE_PUT_BYTES}); "
                             "a conditional write cannot be split into parts")
        condition = {"mode": "create"} if expected is None else {"IfMatch": expected}
        try:  # chunksize: one PUT, never a multipart upload (which would drop the condition)
            answer = self.fs.pipe_file(path, payload, chunksize=len(payload) + 1, **condition)
        except OSError:  # 412, 409 or 404 (If-Match on a deleted object), some as plain OSError: did it change?
            if self.version_of(path) != expected:
                return None
            raise
        return (answer or {}).get("ETag") or self.version_of(path)

    def _write_if_local(self, path: str, payload: bytes, expected: str | None) -> str | None:
        self._check_inside(path)
        temporary = _durable_sibling(path, payload)
        try:
            with _folder_lock(os.path.dirname(path)):
                if expected is None:
                    try:
                        os.link(temporary, path)  # fails if the name exists, whoever made it
                    except FileExistsError:
                        return None
                elif self.version_of(path) != expected:
                    return None
                else:
                    os.replace(temporary, path)
        finally:
            if os.path.lexists(temporary):
                os.unlink(temporary)
        sync_folder(os.path.dirname(path))
        return _content_version(payload)

    def delete_if(self, path: str, expected: str) -> bool:
        """Delete path only if it is still at version `expected`; False (nothing deleted) if it changed or is gone.

        What a writer uses to withdraw its own object without ever removing one another writer put there since.
        """
        if self.is_local:
            self._check_inside(path)
            if not os.path.isdir(os.path.dirname(path)):
                return False
            with _folder_lock(os.path.dirname(path)):
                if self.version_of(path) != expected:
                    return False
                os.unlink(path)
            sync_folder(os.path.dirname(path))
            return True
        bucket, key, _ = self.fs.split_path(path)
        try:
            self.fs.call_s3("delete_object", Bucket=bucket, Key=key, IfMatch=expected)
        except OSError:  # 412 (changed) or 404 (gone)
            if self.version_of(path) != expected:
                return False
            raise
        finally:
            self.fs.invalidate_cache(path)
        return True

    def honours_conditional_writes(self, probe_path: str) -> bool:
        """Whether write_if and delete_if really refuse a changed object here (probed once per store on S3).

        Some S3-compatible stores ignore If-None-Match or If-Match and overwrite: then two writers would both win.
        The probe creates probe_path, tries a second create, a replace and a delete against a wrong ETag (each
        must be refused), and removes it.
        """
        if self.is_local:
            return True
        if "conditional_writes_probe" not in self.__dict__:
            wrong = '"00000000000000000000000000000000"'
            try:
                first = self.write_if(probe_path, b"probe", None)
                honoured = (first is not None and first != wrong
                            and self.write_if(probe_path, b"probe again", None) is None
                            and self.write_if(probe_path, b"probe again", wrong) is None
                            and not self.delete_if(probe_path, wrong))
            finally:
                self.delete([probe_path])
            self.__dict__["conditional_writes_probe"] = honoured  # frozen dataclass: cached like a cached_property
        return self.__dict__["conditional_writes_probe"]

    def write_text(self, path: str, text: str) -> None:
        self.write_bytes(path, text.encode("utf-8"))

    def read_text(self, path: str) -> str:
        return self.read_bytes(path).decode("utf-8")

    def write_table(self, path: str, table: pa.Table | pd.DataFrame) -> None:
        """Parquet written atomically, deterministic bytes for the same rows."""
        self.write_bytes(path, parquet_bytes(table))

    def read_table(self, path: str, columns: Iterable[str] | None = None, max_rows: int | None = None,
                   max_decoded_bytes: int | None = None, where: dict[str, Iterable] | None = None) -> pa.Table:
        """The parquet table at path; with `columns`, only those of them the file has; with `where` (column →
        values), only the rows whose column holds one of its values, read row group by row group (groups whose
        statistics rule them out are skipped), so a caller wanting a few models of a large file never holds it all.

        `max_rows` / `max_decoded_bytes` are checked before anything is decoded (TableTooLarge): a small file can
        promise gigabytes, and a dictionary-encoded one hide them from its footer (storm.store.bounded_parquet).
        """
        with self._open_to_read(path) as handle:
            if columns is None and max_rows is None and max_decoded_bytes is None and where is None:
                return pq.read_table(handle)
            names = pq.ParquetFile(handle).schema_arrow.names
            wanted = None if columns is None else [name for name in columns if name in names]
            if where is not None:
                if max_rows is not None or max_decoded_bytes is not None:
                    raise ValueError("read_table: `where` reads without row or byte bounds; pass one or the other")
                return pq.read_table(handle, columns=wanted,
                                     filters=[(column, "in", list(values)) for column, values in where.items()])
            return read_bounded(handle, path, wanted, max_rows, max_decoded_bytes)

    def list_files(self, prefix: str, suffix: str = "") -> list[str]:
        """Every file under prefix (recursively) ending in suffix, sorted; [] if the prefix is absent.

        Locally regular files only (see list_objects).
        """
        return sorted(path for path in self.list_objects(prefix).files if path.endswith(suffix))

    def list_objects(self, prefix: str) -> Listing:
        """Every object under prefix (recursively) with its size, temporaries left out; empty if the prefix is absent.

        Locally only regular files whose real path lies under the root are listed as files; symbolic links,
        FIFOs, devices and sockets are listed as refused, and symlinked folders are not entered.
        """
        if self.is_local:
            return self._list_local(prefix)
        if not self.fs.exists(prefix):
            return Listing({}, {})
        found = self.fs.find(prefix, detail=True)
        return Listing({_strip_scheme(path): int(info.get("size") or 0) for path, info in found.items()
                        if ".tmp-" not in path}, {})

    def _list_local(self, prefix: str) -> Listing:
        if not os.path.lexists(prefix):
            return Listing({}, {})
        if not _under(os.path.realpath(prefix), self._real_root):
            return Listing({}, {prefix: "a symbolic link leading outside the store root"})
        if not os.path.isdir(prefix):
            return _classify(Listing({}, {}), prefix)
        listing = Listing({}, {})
        for folder, folders, names in os.walk(prefix, followlinks=False):
            for name in folders:
                if os.path.islink(os.path.join(folder, name)):
                    listing.refused[posixpath.join(folder, name)] = "a symbolic link to a folder"
            for name in names:
                _classify(listing, posixpath.join(folder, name))
        return listing

    def delete(self, paths: Iterable[str]) -> None:
        for path in paths:
            if self.fs.exists(path):
                self.fs.rm(path, recursive=True)


def parquet_bytes(table: pa.Table | pd.DataFrame) -> bytes:
    """The Parquet file every store write makes of table: the same bytes for the same rows."""
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", write_statistics=False)
    return sink.getvalue()


_CHANGED_WHILE_READ_RETRIES = 5
_MAX_SINGLE_PUT_BYTES = 5 * 2**30  # S3's limit for one PUT


def _content_version(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


@contextlib.contextmanager
def _folder_lock(folder: str):
    """An exclusive lock on a local folder (flock on its descriptor) while a conditional write compares and swaps.

    Held by every write_if / delete_if in the folder, across threads and processes on this machine.
    """
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _kind_of(mode: int) -> str:
    kinds = [(stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")]
    return next((kind for test, kind in kinds if test(mode)), "not a regular file")


def _classify(listing: Listing, path: str) -> Listing:
    """Add path to listing: a regular file with its size, else refused with its kind (temporaries skipped)."""
    if ".tmp-" in path:
        return listing
    try:
        info = os.lstat(path)
    except FileNotFoundError:  # removed since it was listed
        return listing
    if stat.S_ISREG(info.st_mode):
        listing.files[path] = info.st_size
    else:
        listing.refused[path] = _kind_of(info.st_mode)
    return listing


def _strip_scheme(path: str) -> str:
    return path.split("://", 1)[1] if "://" in path else path


def open_store(config: StorageConfig) -> ObjectStore:
    """The store named by ``storage.root``: a local path, file:// or s3:// URI."""
    parsed = urlparse(config.root)
    if parsed.scheme in ("", "file"):
        local = parsed.path if parsed.scheme == "file" else config.root
        root = os.path.abspath(os.path.expanduser(local))
        os.makedirs(root, exist_ok=True)
        return ObjectStore(fs=fsspec.filesystem("file"), root=root, scheme="file",
                           lease_stale_seconds=config.lease_stale_seconds)
    if parsed.scheme == "s3":
        options: dict = {}
        if config.endpoint_url:  # otherwise botocore honours AWS_ENDPOINT_URL(_S3) itself
            options["endpoint_url"] = config.endpoint_url
        if config.region:
            options["client_kwargs"] = {"region_name": config.region}
        if config.access_key_id is not None and config.secret_access_key is not None:
            options["key"] = config.access_key_id.get_secret_value()
            options["secret"] = config.secret_access_key.get_secret_value()
        if parsed.username or parsed.password:
            raise ValueError(f"storage.root {redact_url_credentials(config.root)!r} holds credentials; give them as "
                             "storage.access_key_id / storage.secret_access_key (or the AWS credential chain) instead")
        root = f"{parsed.netloc}{parsed.path}".rstrip("/")
        if not parsed.netloc or ".." in root.split("/") or posixpath.normpath(root) != root:
            raise ValueError(f"storage.root {redact_url_credentials(config.root)!r}: expected s3://bucket/prefix "
                             "with a bucket name and no '..', '.' or empty segments")
        fs = fsspec.filesystem("s3", skip_instance_cache=True, **options)
        return ObjectStore(fs=fs, root=root, scheme="s3", lease_stale_seconds=config.lease_stale_seconds)
    raise ValueError(
        f"storage.root {redact_url_credentials(config.root)!r}: unsupported scheme {parsed.scheme!r}; use a local path, file:// or s3://bucket/prefix"
    )


def sync_folder(folder: str) -> None:
    """fsync a folder: a rename or link is durable only once its folder's entry is on disk."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _durable_sibling(path: str, payload: bytes) -> str:
    """A complete, fsynced temporary file beside ``path`` (to be renamed or linked into place); returns its name."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.tmp-{uuid.uuid4().hex}"
    try:
        with open(temporary, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:  # a full disk (or a kill signal) leaves no partial sibling behind
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    return temporary
