"""Compare-and-swap on one object (ObjectStore.write_if / delete_if): what leases are built on, locally and on S3."""

import threading

import pytest

from storm.store import open_store


@pytest.fixture(params=["local", "s3"])
def store(request, local_storage):
    storage = local_storage if request.param == "local" else request.getfixturevalue("s3_storage")
    return open_store(storage)


def test_write_if_replaces_only_the_version_it_was_given_and_delete_if_likewise(store):
    path = store.path("leases", "one.json")
    first = store.write_if(path, b"one", None)
    assert first is not None and store.version_of(path) == first
    assert store.write_if(path, b"again", None) is None  # exists: a create is refused
    assert store.write_if(path, b"stale", '"0123456789abcdef0123456789abcdef"') is None
    assert store.read_versioned(path) == (b"one", first)

    second = store.write_if(path, b"two", first)
    assert second not in (None, first) and store.read_versioned(path) == (b"two", second)
    assert store.write_if(path, b"late", first) is None  # the version it saw is gone
    assert not store.delete_if(path, first)
    assert store.read_bytes(path) == b"two"

    assert store.delete_if(path, second)
    assert store.version_of(path) is None and store.read_versioned(path) is None
    assert store.write_if(path, b"ghost", second) is None  # a swap never recreates a deleted object
    assert not store.delete_if(path, second)
    assert store.list_files(store.path("leases")) == []  # no temporary left behind


def test_local_compare_and_swap_loses_no_update_under_threads(local_storage):
    """Eight threads increment one counter by compare-and-swap: every successful swap counts, none overwritten."""
    store = open_store(local_storage)
    path = store.path("counter")
    store.write_if(path, b"0", None)
    swaps = []

    def increment(times: int) -> None:
        done = 0
        while done < times:
            payload, version = store.read_versioned(path)
            if store.write_if(path, str(int(payload) + 1).encode(), version) is not None:
                done += 1
        swaps.append(done)

    threads = [threading.Thread(target=increment, args=(15,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert int(store.read_bytes(path)) == sum(swaps) == 120
    assert store.list_files(store.root) == [path]  # no temporary left behind


def test_a_store_that_honours_conditional_writes_says_so_once_and_leaves_no_probe(s3_storage):
    store = open_store(s3_storage)
    probe = store.path("scores", "lease-probe.tmp-one")
    assert store.honours_conditional_writes(probe)
    assert not store.exists(probe)
    assert store.honours_conditional_writes(store.path("scores", "lease-probe.tmp-two"))  # cached: no second probe
