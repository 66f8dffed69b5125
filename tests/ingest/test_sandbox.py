"""Issue 21: a decoder that crashes, allocates or spins ends its item alone, with the limit named (real processes)."""

from __future__ import annotations

import os
import resource
import time

import pytest

from storm.worlds.hostile import forged_m4a, jpeg_scan_bomb, m4a_bytes, progressive_jpeg
from storm.config import DecoderSandboxConfig, FeatureConfig, IngestConfig
from storm.ingest.audio import SlicePlan, decode_audio
from storm.ingest.decode import decode_image
from storm.ingest.errors import RejectedInput
from storm.ingest.sandbox import DecoderSandbox, LimitExceeded

LIMITS = DecoderSandboxConfig(memory_bytes=256 * 2 ** 20, cpu_seconds=1, wall_seconds=20)


def aborts() -> None:
    os.abort()


def allocates(n_bytes: int) -> int:
    return len(bytearray(n_bytes))


def spins() -> None:
    while True:
        pass


def sleeps(seconds: float) -> None:
    time.sleep(seconds)


def doubles(x: int) -> int:
    return 2 * x


def refuses() -> None:
    raise RejectedInput("not a chart")


def test_a_decoder_that_aborts_ends_its_item_alone_and_the_next_item_decodes():
    with DecoderSandbox(LIMITS) as sandbox:
        with pytest.raises(LimitExceeded, match=r"decoder crashed \(SIGABRT\)"):
            sandbox.run(aborts)
        assert sandbox.run(doubles, 21) == 42


def test_an_allocation_past_the_memory_budget_names_the_memory_limit():
    with DecoderSandbox(LIMITS) as sandbox:
        assert sandbox.run(allocates, 64 * 2 ** 20) == 64 * 2 ** 20  # within the budget
        with pytest.raises(LimitExceeded, match="256 MiB memory limit"):
            sandbox.run(allocates, 2 * 2 ** 30)
        assert sandbox.run(doubles, 1) == 2


def test_a_spinning_decoder_is_ended_by_the_cpu_time_limit():
    began = time.monotonic()
    with DecoderSandbox(LIMITS) as sandbox:
        with pytest.raises(LimitExceeded, match="1 s CPU-time limit"):
            sandbox.run(spins)
        assert sandbox.run(doubles, 3) == 6
    assert time.monotonic() - began < 15


def test_a_decoder_that_blocks_is_ended_by_the_wall_clock_limit():
    with DecoderSandbox(DecoderSandboxConfig(memory_bytes=256 * 2 ** 20, cpu_seconds=5, wall_seconds=0.5)) as sandbox:
        with pytest.raises(LimitExceeded, match="0.5 s wall-clock limit"):
            sandbox.run(sleeps, 30)
        assert sandbox.run(doubles, 4) == 8


def test_a_rejection_inside_the_sandbox_stays_the_decoders_own_reason():
    with DecoderSandbox(LIMITS) as sandbox:
        with pytest.raises(RejectedInput, match="^not a chart$"):
            sandbox.run(refuses)


def test_the_forged_m4a_is_quarantined_without_the_worker_growing():
    cfg = IngestConfig()
    plan = SlicePlan.of(FeatureConfig(), cfg)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with DecoderSandbox(LIMITS) as sandbox:
        with pytest.raises(RejectedInput):
            sandbox.run(decode_audio, forged_m4a(), ".m4a", cfg, plan)
        assert sandbox.run(decode_audio, m4a_bytes(), ".m4a", cfg, plan).shape[0] > 0  # a good call still decodes
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 100  # in this process the same file took RSS from 275 MiB to 1.25 GiB


def test_a_jpeg_with_thousands_of_scans_is_refused_before_decoding_and_a_normal_progressive_one_decodes():
    cfg = IngestConfig()
    assert decode_image(progressive_jpeg(), ".jpg", cfg).shape == (64, 64)
    began = time.process_time()
    with pytest.raises(RejectedInput, match=r"5\d{3} scans, over ingest.sandbox.max_jpeg_scans=64"):
        decode_image(jpeg_scan_bomb(5000), ".jpg", cfg)
    assert time.process_time() - began < 1.0  # counted, not decoded


# Issue 38, finding 13: what a decoder may leave behind (files, core dumps, processes) is bounded too.

def writes(path: str, n_bytes: int) -> int:
    with open(path, "wb") as sink:
        for _ in range(n_bytes // 2 ** 20):
            sink.write(b"\0" * 2 ** 20)
    return n_bytes


def core_limit() -> tuple[int, int]:
    return resource.getrlimit(resource.RLIMIT_CORE)


def forks_then(ending: str, pid_file: str) -> None:
    """Fork a grandchild that outlives its parent by a minute, then abort or block."""
    grandchild = os.fork()
    if grandchild == 0:
        time.sleep(60)
        os._exit(0)
    with open(pid_file, "w") as out:
        out.write(str(grandchild))
    if ending == "abort":
        os.abort()
    time.sleep(60)


def gone(pid: int, within: float = 2.0) -> bool:
    """Whether the process ended (a zombie waiting for its reaper counts as ended)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_a_decoder_writing_past_the_file_size_limit_ends_its_item_with_the_limit_named(tmp_path):
    target = tmp_path / "bomb.bin"
    with DecoderSandbox(LIMITS) as sandbox:
        with pytest.raises(LimitExceeded, match="64 MiB file-size limit"):
            sandbox.run(writes, str(target), 200 * 2 ** 20)
        assert sandbox.run(doubles, 5) == 10
    assert target.stat().st_size <= 64 * 2 ** 20


def test_a_decoder_may_dump_no_core():
    with DecoderSandbox(LIMITS) as sandbox:
        assert sandbox.run(core_limit) == (0, 0)


@pytest.mark.parametrize("ending, reason", [("abort", r"decoder crashed \(SIGABRT\)"), ("block", "wall-clock limit")])
def test_a_process_the_decoder_forked_dies_with_it_and_the_next_item_starts_at_once(tmp_path, ending, reason):
    limits = DecoderSandboxConfig(memory_bytes=256 * 2 ** 20, cpu_seconds=5, wall_seconds=1.5)
    pid_file = tmp_path / "grandchild.pid"
    with DecoderSandbox(limits) as sandbox:
        began = time.monotonic()
        with pytest.raises(LimitExceeded, match=reason):
            sandbox.run(forks_then, ending, str(pid_file))
        assert sandbox.run(doubles, 6) == 12
        took = time.monotonic() - began
    assert gone(int(pid_file.read_text())), "the decoder's grandchild outlived it"
    assert took < limits.wall_seconds + 1.5, f"the item and the next took {took:.1f} s"  # the kill waited 5 s more
