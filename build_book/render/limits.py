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
import gc
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


class NotYet(Exception):
    """Raised by an ``answer`` function that cannot answer a child's question yet: it is asked again
    when another child has said something."""


def run(tasks: list[Callable[..., object]], jobs: int, seconds: float, memory: int,
        answer: Callable[[int, object], object] | None = None, server: list[str] | None = None,
        together: int = 0, done: Callable[[int, object], None] | None = None) -> list[object]:
    """What each of ``tasks`` returns, each run in a forked child, at most ``jobs`` at once, all
    within ``seconds`` from now, each within ``memory`` bytes of address space.

    With ``server`` (module names), the children are forked from a small server process that has
    imported these modules (multiprocessing's forkserver), not from the build: they do not share the
    build's memory (which would count again in every child's resident set) and start from what the
    modules loaded; ``tasks`` must then be picklable.

    With ``answer``, each task is called with a function ``ask(question)`` that sends ``question``
    to this process and returns ``answer(task number, question)``; an answer that raises
    :class:`NotYet` is tried again each time any child asks something or another question is answered
    (children are started in the order of ``tasks``, so a child that waits for the ones started before it
    cannot deadlock).

    With ``together``, the last ``together`` tasks are started with the last ``jobs`` ones, rather than
    after them: tasks of a like length (the chapters of a book) then end together, sharing the cores,
    where the last would otherwise run alone on one of them (``together=1``); and a task that waits
    for what all the others say before it works (the front matter, which shows their page numbers) does
    not take a place while it waits.

    With ``done``, ``done(task number, result)`` is called as each task ends well (to show progress)."""
    deadline = time.monotonic() + seconds
    results: dict[int, object] = {}
    running: dict[int, tuple[int, int, bytearray, int | None]] = {}   # pid -> (task, read end, data, reply end)
    pending: dict[int, tuple[int, object]] = {}    # pid -> (task number, question) not answered yet
    selector = selectors.DefaultSelector()
    waiting = list(range(len(tasks)))

    def reply_all() -> None:
        # until no more can be answered: an answer may be what an earlier question waited for (two
        # pieces paginated at once: the second asked first, and waited a whole layout for the next event)
        answered = True
        while answered:
            answered = False
            for pid, (number, question) in list(pending.items()):
                try:
                    value = answer(number, question)
                except NotYet:
                    continue
                del pending[pid]
                _send(running[pid][3], ("answer", value))
                answered = True

    # The build's objects are inherited by every child: frozen, the children's garbage collector
    # leaves them alone instead of writing to (and so copying) every page of the build's memory.
    gc.collect()
    gc.freeze()
    try:
        while waiting or running:
            while waiting and len(running) < max(1, jobs):
                number = waiting.pop(0)
                start = _fork if server is None else _forkserver(server)
                pid, fd, reply = start(tasks[number], memory, answer is not None)
                running[pid] = (number, fd, bytearray(), reply)
                selector.register(fd, selectors.EVENT_READ, pid)
                if jobs > 1 and 0 < len(waiting) <= together and len(running) == jobs:
                    jobs += len(waiting)    # (the loop starts them)
            left = deadline - time.monotonic()
            if left <= 0:
                raise OutOfTime(seconds)
            for key, _ in selector.select(timeout=min(left, 1.0)):
                pid = key.data
                number, fd, data, reply = running[pid]
                chunk = os.read(fd, 1 << 20)
                if chunk:
                    data += chunk
                    asked = False
                    for question in _questions(data):
                        pending[pid] = (number, question)
                        asked = True
                    if asked:
                        reply_all()
                    continue
                selector.unregister(fd)
                os.close(fd)
                if reply is not None:
                    os.close(reply)
                del running[pid]
                pending.pop(pid, None)
                status = _wait(pid)
                results[number] = _outcome(bytes(data), status, memory)
                if done is not None:
                    done(number, results[number])
                if pending:
                    reply_all()
    finally:
        for pid, (_, fd, _, reply) in running.items():
            _kill(pid)
            try:
                selector.unregister(fd)
            except (KeyError, ValueError):
                pass
            os.close(fd)
            if reply is not None:
                os.close(reply)
        selector.close()
        gc.unfreeze()
    return [results[n] for n in range(len(tasks))]


# Between parent and child: frames of an 8-byte length and a pickle. A child's questions are
# ("ask", question) frames before its outcome; the parent strips them from the data it reads.
def _frame(message) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return len(payload).to_bytes(8, "big") + payload


def _send(fd: int, message) -> None:
    data = _frame(message)
    while data:
        data = data[os.write(fd, data):]


def _receive(fd: int):
    def exactly(n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = os.read(fd, n - len(out))
            if not chunk:
                raise EOFError("the build went away")
            out += chunk
        return out

    return pickle.loads(exactly(int.from_bytes(exactly(8), "big")))


def _questions(data: bytearray):
    """Take the complete ("ask", question) frames off the front of ``data``; yield the questions."""
    while len(data) >= 8:
        size = int.from_bytes(data[:8], "big")
        if len(data) < 8 + size:
            return
        message = pickle.loads(bytes(data[8:8 + size]))
        if not (isinstance(message, tuple) and message[:1] == ("ask",)):
            return       # the outcome: left for _outcome
        del data[:8 + size]
        yield message[1]


def _fork(task: Callable[..., object], memory: int, conversation: bool = False) -> tuple[int, int, int | None]:
    read, write = os.pipe()
    answers, reply = os.pipe() if conversation else (None, None)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            os.close(read)
            if reply is not None:
                os.close(reply)
        finally:
            _child(task, memory, conversation, write, answers, parent)
    os.close(write)
    if answers is not None:
        os.close(answers)
    return pid, read, reply


# processes started from the forkserver (Process objects, by a key that stands for a pid in ``run``)
_SERVED: dict[int, object] = {}


def _forkserver(modules: list[str]):
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(modules))

    def start(task: Callable[..., object], memory: int, conversation: bool = False) -> tuple[int, int, int | None]:
        from multiprocessing.connection import Connection

        read, write = os.pipe()
        answers, reply = os.pipe() if conversation else (None, None)
        ends = [Connection(write), Connection(answers) if answers is not None else None]
        try:
            process = context.Process(target=_served, args=(task, memory, conversation, *ends), daemon=False)
            process.start()
        finally:
            for end in ends:     # the child has its own copies
                if end is not None:
                    end.close()
        key = -process.pid      # not a child of this process: waited for through the Process
        _SERVED[key] = process
        return key, read, reply

    return start


def start_server(modules: list[str]) -> None:
    """Start now the forkserver that ``run(..., server=modules)`` forks its children from, so that it
    imports ``modules`` while the build does other work (it is started when first needed otherwise)."""
    import multiprocessing
    import multiprocessing.forkserver as forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(list(modules))
    forkserver.ensure_running()


def stop_server() -> None:
    """Stop the forkserver ``run`` started, if any (it is started again when needed)."""
    import multiprocessing.forkserver as forkserver

    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)   # no public way in 3.11
    if stop is not None:
        try:
            stop()
        except OSError:
            pass


def _served(task, memory: int, conversation: bool, out, answers) -> None:
    """In a process forked from the forkserver: run ``task`` as :func:`_fork`'s children do."""
    _child(task, memory, conversation, os.dup(out.fileno()), os.dup(answers.fileno()) if answers else None,
           os.getppid())


def _wait(pid: int) -> int:
    if pid < 0:
        process = _SERVED.pop(pid)
        process.join()
        code = process.exitcode or 0
        return -code if code < 0 else code << 8     # as waitpid's status: a signal, or an exit code
    return os.waitpid(pid, 0)[1]


def _child(task: Callable[..., object], memory: int, conversation: bool, write: int, answers: int | None,
           parent: int) -> None:
    """Run ``task`` in this (child) process and send its outcome down ``write``; never returns."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)   # Ctrl-C stops the child at once
        if pandoc._prctl is not None:
            pandoc._die_with(parent)
        _limit_memory(memory)

        def ask(question):
            _send(write, ("ask", question))
            kind, value = _receive(answers)
            return value

        try:
            outcome = ("ok", task(ask) if conversation else task())
        except MemoryError:
            outcome = ("memory", None)
        except RecursionError:
            outcome = ("memory", None)
        except (OSError, ImportError) as exc:   # a library that cannot be mapped, ENOMEM
            short = getattr(exc, "errno", None) == errno.ENOMEM or "failed to map" in str(exc)
            outcome = ("memory", None) if short or _near_limit(memory) else ("error", traceback.format_exc())
        except BaseException:  # noqa: BLE001 - reported by the parent
            # an allocation refused in C code can surface as another exception (SystemError: error
            # return without exception set, a TypeError from a half-built object): at the limit, it is one
            outcome = ("memory", None) if _near_limit(memory) else ("error", traceback.format_exc())
        try:
            payload = _frame(outcome)
        except MemoryError:
            payload = _frame(("memory", None))
        with os.fdopen(write, "wb") as out:
            out.write(payload)
    except BaseException:  # noqa: BLE001 - the parent sees no result and reports it
        code = 70
    finally:
        os._exit(code)


def _near_limit(memory: int) -> bool:
    """Whether this process's address space came within a quarter (at least 64 MB) of ``memory``."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            peak = next((int(line.split()[1]) * 1024 for line in status if line.startswith("VmPeak:")), 0)
    except (OSError, ValueError, IndexError):
        return False
    return peak >= memory - max(64 * 2**20, memory // 4)


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
        kind, value = pickle.loads(data[8:]) if data else (None, None)
    except Exception:  # noqa: BLE001 - a child killed while writing its result
        kind, value = None, None
    if kind == "ok":
        return value
    if kind == "error":
        raise ChildFailed(value)
    # MemoryError, or killed by a signal (the kernel's OOM killer, an allocation failing in C)
    raise OutOfMemory(memory)


def _kill(pid: int) -> None:
    if pid < 0:
        process = _SERVED.pop(pid)
        process.kill()
        process.join()
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.waitpid(pid, 0)
    except OSError:
        pass
