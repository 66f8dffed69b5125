"""Decoders in a sandbox: a child process with an address-space limit and a CPU-time limit per item.

A Python exception of a decoder is one item's quarantine reason (storm.ingest.readers). A native crash,
a memory bomb or a CPU bomb is not an exception: a segfault in libav ends the Ray worker, Ray retries the
task, and the night never ends. So every decode that can allocate or spin (audio containers, images) runs
in a child process forked from the worker (decoders are already imported there; the fork server and spawn
start methods would re-import the worker's main module, Ray, into every child):

- its address space is capped at what it had when it started plus ``memory_bytes`` (RLIMIT_AS), so an
  allocation past the budget fails inside that process (MemoryError, or the decoder dies);
- before each item its CPU-time limit (RLIMIT_CPU) is set to what it has used plus ``cpu_seconds``:
  the kernel ends it with SIGXCPU when one item spins past its share;
- the parent waits at most ``wall_seconds`` for an answer (a decoder blocked on something) and kills it;
- it writes no file past ``FILE_BYTES`` (RLIMIT_FSIZE; SIGXFSZ ignored, so the write fails instead) and no
  core dump (RLIMIT_CORE 0);
- it leads its own process group, and the whole group is killed: a process the decoder forked dies with it
  instead of holding the child's pipes open (each kill used to wait 5 s on it).

Whatever ends the child ends that item alone: it becomes a ``RejectedInput`` naming the limit (or the
signal), a fresh child takes the next item, and the batch goes on.
"""

from __future__ import annotations

import errno
import faulthandler
import math
import multiprocessing
import os
import resource
import signal
import time
from multiprocessing.connection import Connection
from typing import Any, Callable

from storm.config import DecoderSandboxConfig
from storm.ingest.errors import RejectedInput, describe

_PAGE = os.sysconf("SC_PAGE_SIZE")
FILE_BYTES = 64 * 2 ** 20  # decoders read bytes and return arrays; a file this large is a disk bomb
_LIVENESS_SECONDS = 0.1  # how often a wait for an answer checks the child is still alive


class LimitExceeded(RejectedInput):
    """The item's decoder hit a sandbox limit or died; ``reason`` names which."""


class DecoderSandbox:
    """One child process decoding items one at a time under ``limits`` (``ingest.sandbox``); replaced whenever an
    item ends it.

    Use as a context manager around a batch: ``with DecoderSandbox(limits) as sandbox: sandbox.run(fn, *args)``.
    ``fn`` and its arguments must pickle (module-level functions, partials of them, bytes, configs).
    """

    def __init__(self, limits: DecoderSandboxConfig) -> None:
        self.limits = limits
        self._context = multiprocessing.get_context("fork")
        self._process = None
        self._conn: Connection | None = None

    def __enter__(self) -> "DecoderSandbox":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args) in the child; its exceptions come back as they were raised (RejectedInput stays one)."""
        self._ensure_child()
        try:
            self._conn.send((fn, args))
        except (BrokenPipeError, EOFError, OSError):
            self._discard()
            raise LimitExceeded("decoder process was gone before the item was sent")
        answered = self._wait_for_answer()
        if answered is None:
            self._discard()
            raise LimitExceeded(f"decoding took longer than the {self.limits.wall_seconds:g} s wall-clock limit")
        if not answered:
            raise LimitExceeded(self._death_reason())
        try:
            status, value = self._conn.recv()
        except (EOFError, OSError):
            raise LimitExceeded(self._death_reason()) from None
        if status == "ok":
            return value
        if status == "memory":
            self._discard()  # a process that ran out of address space may be left in a bad state
            raise LimitExceeded(f"decoding ran out of {_memory_limit(self.limits)} ({value})")
        if status == "file":
            raise LimitExceeded(f"the decoder wrote past the {FILE_BYTES / 2 ** 20:.0f} MiB file-size limit "
                                f"({value})")
        if status == "rejected":
            raise RejectedInput(value)
        raise RejectedInput(f"decoder failed ({value})")

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        self._discard(graceful=True)

    def _wait_for_answer(self) -> bool | None:
        """True once the child answered (or closed its end), False when it died without answering, None when the
        wall-clock limit passed. Its liveness is checked too: a process it forked may hold its pipe open."""
        deadline = time.monotonic() + self.limits.wall_seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if self._conn.poll(min(left, _LIVENESS_SECONDS)):
                return True
            if _exited(self._process.pid):
                return self._conn.poll(0)

    def _ensure_child(self) -> None:
        if self._process is not None and not _exited(self._process.pid):
            return
        self._discard()
        parent, child = self._context.Pipe(duplex=True)
        self._process = self._context.Process(target=serve, args=(child, self.limits), daemon=True)
        self._process.start()
        _own_group(self._process.pid)  # here as well as in the child: whichever runs first, the group exists
        child.close()
        self._conn = parent

    def _death_reason(self) -> str:
        process = self._process
        _kill_group(process.pid)
        process.join(timeout=5)
        code = process.exitcode
        self._discard()
        if code is not None and code < 0:
            signum = -code
            if signum == signal.SIGXCPU:
                return f"decoding used more than the {self.limits.cpu_seconds} s CPU-time limit (SIGXCPU)"
            try:
                name = signal.Signals(signum).name
            except ValueError:
                name = str(signum)
            return f"decoder crashed ({name}) under {_memory_limit(self.limits)}"
        return f"decoder process exited with code {code} under {_memory_limit(self.limits)}"

    def _discard(self, graceful: bool = False) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            if graceful:
                _wait_exited(self._process.pid, 1.0)
            _kill_group(self._process.pid)  # the child and whatever it forked, before the child is reaped
            self._process.join(timeout=5)
            self._process.close()
            self._process = None


def serve(conn: Connection, limits: DecoderSandboxConfig) -> None:
    """The child's loop: cap the address space once, then per item a fresh CPU budget; None ends it."""
    faulthandler.disable()  # a crash is reported by the parent, once, as the item's reason
    _own_group(0)
    # A write past RLIMIT_FSIZE fails (EFBIG) instead of killing: a Ray worker's log grown past FILE_BYTES then
    # loses the child's own messages, never its item.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    ceiling = _address_space_bytes() + limits.memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        fn, args = job
        budget = math.ceil(_cpu_seconds_used()) + limits.cpu_seconds
        resource.setrlimit(resource.RLIMIT_CPU, (budget if cpu_hard == resource.RLIM_INFINITY else min(budget, cpu_hard),
                                                 cpu_hard))
        try:
            answer = ("ok", fn(*args))
        except MemoryError as err:
            answer = ("memory", describe(err))
        except OSError as err:
            answer = ("file" if err.errno == errno.EFBIG else "error", describe(err))
        except RejectedInput as rejected:
            answer = ("rejected", rejected.reason)
        except Exception as err:  # noqa: BLE001 - the parent turns it into the item's reason
            answer = ("error", describe(err))
        try:
            conn.send(answer)
        except MemoryError:
            conn.send(("memory", "the decoded item is too large to return"))


def _own_group(pid: int) -> None:
    """Make ``pid`` (0: this process) the leader of its own process group."""
    try:
        os.setpgid(pid, 0)
    except (PermissionError, ProcessLookupError):  # the child already did it, or is gone
        pass


def _exited(pid: int) -> bool:
    """Whether the child has exited, without reaping it: until it is reaped its pid, and so its group id, cannot
    be handed to another process, so killing the group never reaches a stranger."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _wait_exited(pid: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not _exited(pid) and time.monotonic() < deadline:
        time.sleep(0.01)


def _kill_group(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads: the sandbox child and every process it forked."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # nothing of the group is left
        pass


def _memory_limit(limits: DecoderSandboxConfig) -> str:
    return f"the {limits.memory_bytes / 2 ** 20:.0f} MiB memory limit"


def _address_space_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * _PAGE


def _cpu_seconds_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
