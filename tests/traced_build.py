"""Run build_book's command line under a Python audit hook that records what it touches.

    python tests/traced_build.py LOG.jsonl -- check --book DIR

Every file opened, every folder listed, every socket connected or name looked up
and every process started (with its arguments) is written to LOG.jsonl, one JSON
object a line, when the command ends; the command's exit status is this script's.
tests/test_sandbox.py reads the log to show that a hostile book reads nothing
outside its folder and reaches no network.
"""

from __future__ import annotations

import json
import os
import sys
import threading

WATCHED = {"open", "os.listdir", "os.scandir", "socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
           "socket.sendto", "subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "os.system",
           "urllib.Request", "shutil.copyfile", "os.symlink", "os.link"}


def _plain(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, os.PathLike):
        return os.fspath(value) if isinstance(os.fspath(value), str) else os.fsdecode(os.fspath(value))
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return repr(value)


def main() -> int:
    log_path, separator, *args = sys.argv[1:]
    assert separator == "--", "usage: traced_build.py LOG -- COMMAND ARGS"
    events: list[dict] = []
    recording = threading.Event()
    recording.set()
    parent = os.getpid()
    # worker processes forked by the build (chapters formatted in parallel) append their events as they
    # happen, to a file opened now, before the hook (a forked worker's list would be lost with it)
    children_log = os.open(log_path + ".children", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o644)

    def hook(event: str, hook_args: tuple) -> None:
        if not recording.is_set() or event not in WATCHED:
            return
        if os.getpid() != parent:
            record: list[dict] = []
            _record(event, hook_args, record)
            os.write(children_log, (json.dumps(record[0]) + "\n").encode("utf-8"))
            return
        _record(event, hook_args, events)

    def _record(event: str, hook_args: tuple, events: list) -> None:
        if event == "subprocess.Popen":
            executable, argv, cwd, _env = hook_args
            events.append({"event": event, "args": [_plain(executable), _plain(argv), _plain(cwd)]})
        elif event == "socket.connect":
            events.append({"event": event, "args": [_plain(hook_args[1])]})
        else:
            events.append({"event": event, "args": [_plain(a) for a in hook_args]})

    sys.addaudithook(hook)
    from build_book.cli import main as cli

    try:
        status = cli(args)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    finally:
        recording.clear()
        os.close(children_log)
        with open(log_path + ".children", encoding="utf-8") as forked:
            events += [json.loads(line) for line in forked]
        with open(log_path, "w", encoding="utf-8") as log:
            for event in events:
                log.write(json.dumps(event) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
