"""WeasyPrint in child processes, with a time and a memory limit.

Hostile print CSS (absurd page or font sizes in a book's ``templates/pdf/print.css``) or a huge book
can keep WeasyPrint busy for many minutes or make it take gigabytes. Every layout therefore runs in a
process forked from the build (which keeps the pipeline's state: nothing is pickled on the way in):

- its address space is limited (``RLIMIT_AS``, :data:`MEMORY_ENV`, default :data:`DEFAULT_MEMORY`);
- all the layouts of one PDF share a deadline (:data:`TIMEOUT_ENV`, default :func:`default_timeout`);
- a child is killed when the build goes (``PR_SET_PDEATHSIG``, as pandoc is), and on Ctrl-C.

:func:`run` runs tasks (functions of no arguments, ``jobs`` at a time) and returns what each returned
(pickled back through a pipe). A task that runs past the deadline raises :class:`OutOfTime`; one that
runs out of memory (``MemoryError``, or killed by a signal) raises :class:`OutOfMemory`.
"""

from __future__ import annotations

import errno
import os
import pickle
import resource
import selectors
import signal
import time
import traceback
from typing import Callable

from .. import pandoc

TIMEOUT_ENV = "BUILD_BOOK_PDF_TIMEOUT"
MEMORY_ENV = "BUILD_BOOK_PDF_MEMORY"
DEFAULT_MEMORY = 6 * 2**30
BASE_SECONDS = 120.0


class LimitExceeded(Exception):
    pass


class OutOfTime(LimitExceeded):
    def __init__(self, seconds: float):
        super().__init__(seconds)
        self.seconds = seconds


class OutOfMemory(LimitExceeded):
    def __init__(self, limit: int):
        super().__init__(limit)
        self.limit = limit


class ChildFailed(RuntimeError):
    """WeasyPrint raised an exception in the child (a bug, not the book's): its traceback."""


def default_timeout(expected_pages: int) -> float:
    """120 s, and 1 s more for every 10 pages the book is expected to have."""
    return BASE_SECONDS + expected_pages / 10


def timeout(expected_pages: int) -> float:
    """The time the layout of the whole PDF may take, in seconds."""
    value = os.environ.get(TIMEOUT_ENV, "").strip()
    try:
        seconds = float(value) if value else 0.0
    except ValueError:
        seconds = 0.0
    return seconds if seconds > 0 else default_timeout(expected_pages)


def memory_limit() -> int:
    """The address space each layout process may take, in bytes (a number, or with K, M or G)."""
    value = os.environ.get(MEMORY_ENV, "").strip().upper().removesuffix("B")
    scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(value[-1:], 1) if value else 1
    try:
        number = float(value[:-1] if scale > 1 else value) if value else 0.0
    except ValueError:
        number = 0.0
    return int(number * scale) if number > 0 else DEFAULT_MEMORY


def shown_bytes(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


def run(tasks: list[Callable[[], object]], jobs: int, seconds: float, memory: int) -> list[object]:
    """What each of ``tasks`` returns, each run in a forked child, at most ``jobs`` at once, all
    within ``seconds`` from now, each within ``memory`` bytes of address space."""
    deadline = time.monotonic() + seconds
    results: dict[int, object] = {}
    running: dict[int, tuple[int, int, bytearray]] = {}   # pid -> (task number, read end, data)
    selector = selectors.DefaultSelector()
    waiting = list(range(len(tasks)))
    try:
        while waiting or running:
            while waiting and len(running) < max(1, jobs):
                number = waiting.pop(0)
                pid, fd = _fork(tasks[number], memory)
                running[pid] = (number, fd, bytearray())
                selector.register(fd, selectors.EVENT_READ, pid)
            left = deadline - time.monotonic()
            if left <= 0:
                raise OutOfTime(seconds)
            for key, _ in selector.select(timeout=min(left, 1.0)):
                pid = key.data
                number, fd, data = running[pid]
                chunk = os.read(fd, 1 << 20)
                if chunk:
                    data += chunk
                    continue
                selector.unregister(fd)
                os.close(fd)
                del running[pid]
                _, status = os.waitpid(pid, 0)
                results[number] = _outcome(bytes(data), status, memory)
    finally:
        for pid, (_, fd, _) in running.items():
            _kill(pid)
            try:
                selector.unregister(fd)
            except (KeyError, ValueError):
                pass
            os.close(fd)
        selector.close()
    return [results[n] for n in range(len(tasks))]


def _fork(task: Callable[[], object], memory: int) -> tuple[int, int]:
    read, write = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(read)
            signal.signal(signal.SIGINT, signal.SIG_DFL)   # Ctrl-C stops the child at once
            if pandoc._prctl is not None:
                pandoc._die_with(parent)
            _limit_memory(memory)
            try:
                outcome = ("ok", task())
            except MemoryError:
                outcome = ("memory", None)
            except RecursionError:
                outcome = ("memory", None)
            except (OSError, ImportError) as exc:   # a library that cannot be mapped, ENOMEM
                short = getattr(exc, "errno", None) == errno.ENOMEM or "failed to map" in str(exc)
                outcome = ("memory", None) if short else ("error", traceback.format_exc())
            except BaseException:  # noqa: BLE001 - reported by the parent
                outcome = ("error", traceback.format_exc())
            try:
                payload = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
            except MemoryError:
                payload = pickle.dumps(("memory", None))
            with os.fdopen(write, "wb") as out:
                out.write(payload)
        except BaseException:  # noqa: BLE001 - the parent sees no result and reports it
            code = 70
        finally:
            os._exit(code)
    os.close(write)
    return pid, read


def _limit_memory(memory: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        memory = min(memory, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (memory, hard))
    except (ValueError, OSError):
        pass


def _outcome(data: bytes, status: int, memory: int) -> object:
    try:
        kind, value = pickle.loads(data) if data else (None, None)
    except Exception:  # noqa: BLE001 - a child killed while writing its result
        kind, value = None, None
    if kind == "ok":
        return value
    if kind == "error":
        raise ChildFailed(value)
    # MemoryError, or killed by a signal (the kernel's OOM killer, an allocation failing in C)
    raise OutOfMemory(memory)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.waitpid(pid, 0)
    except OSError:
        pass
