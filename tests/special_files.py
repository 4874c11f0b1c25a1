"""What a reader of files does with a file that never ends: a FIFO without a writer (which would
block ``open``) and ``/dev/zero`` (which would be read forever). Shared by the tests of the two
readers, `data.load_csv` and `Module.load` (both go through `files.open_regular_file`)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

posix_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
posix_dev_zero = pytest.mark.skipif(
    not os.path.exists("/dev/zero") or importlib.util.find_spec("resource") is None,
    reason="needs /dev/zero and ulimit (POSIX)")


def error_on_a_fifo(load: Callable[[Path], object], fifo: Path) -> BaseException | None:
    """``load(fifo)`` for a new FIFO without a writer, in a thread: the test fails if it waits for a
    writer; else what it raised (None if nothing)."""
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            load(fifo)
            outcome.append(None)
        except BaseException as e:  # handed to the test's thread
            outcome.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    blocked = thread.is_alive()
    if blocked:  # unblock the open() (a writer appears and leaves) so no thread is left behind
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(10)
    assert not blocked, f"{getattr(load, '__qualname__', 'load')} waited for a writer on a FIFO"
    return outcome[0]


def error_on_dev_zero(imports: str, call: str) -> str:
    """The ValueError message of ``call`` (code reading '/dev/zero') after ``imports``, in a child
    with 3 GiB of address space: reading /dev/zero to its end would fail there, not here."""
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, resource.RLIM_INFINITY))\n"
            f"{imports}\ntry:\n    {call}\nexcept ValueError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()
