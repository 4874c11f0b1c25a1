"""How much memory this process may use, and a refusal, before anything is allocated, of work
that needs more (a dataset, a model or a training run of a size no machine holds).

The limit is the smallest of the machine's physical memory, the container's (cgroup v2 or v1)
and the process's own (``ulimit -v`` / ``ulimit -d``), each read where the system keeps it.
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["check_memory", "memory_limit"]


def memory_limit() -> tuple[int, str] | None:
    """The most memory this process can have, in bytes, and its description; None if unknown.

    The smallest of: the machine's physical memory, the container's limit (cgroup v2 or v1)
    and the process's own limits (``ulimit -v`` / ``ulimit -d``). Swap is not counted.
    """
    found: list[tuple[int, str]] = []
    with contextlib.suppress(ValueError, OSError, AttributeError):  # no sysconf on Windows
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        found.append((physical, f"the {_bytes(physical)} this machine has"))
    for path in _cgroup_limit_files():
        with contextlib.suppress(OSError, ValueError), open(path) as f:
            limit = int(f.read().strip())  # "max" (no limit) raises ValueError
            if limit < 2**60:  # cgroup v1 says "no limit" with a huge number
                found.append((limit, f"this container's limit of {_bytes(limit)} (cgroup)"))
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource  # POSIX only

        for name, option in (("RLIMIT_AS", "-v"), ("RLIMIT_DATA", "-d")):
            soft = resource.getrlimit(getattr(resource, name))[0]
            if soft != resource.RLIM_INFINITY and soft > 0:
                found.append((soft, f"this process's limit of {_bytes(soft)} (ulimit {option})"))
    return min(found) if found else None


def _cgroup_limit_files() -> list[str]:
    """Where this process's cgroup keeps its memory limit (v2, then v1), if anywhere."""
    files = []
    with contextlib.suppress(OSError), open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if controllers == "":  # cgroup v2: "0::/path"
                files.append(f"/sys/fs/cgroup{path.rstrip('/')}/memory.max")
            elif "memory" in controllers.split(","):
                files.append(f"/sys/fs/cgroup/memory{path.rstrip('/')}/memory.limit_in_bytes")
    return [*files, "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]


def check_memory(n_bytes: float, what: str) -> None:
    """Raise ValueError, before anything is allocated, if ``what`` needs more than `memory_limit`.

    ``n_bytes`` is an estimate (the callers measure their peak use per item); the message says
    the need, the limit and what sets the limit, e.g. "make_moons(n=1000000000) needs about
    93.1 GiB of memory, more than the 23.5 GiB this machine has"."""
    limit = memory_limit()
    if limit is not None and n_bytes > limit[0]:
        need = f"about {_bytes(n_bytes)}" if n_bytes < 1000 * 1024**6 else "more than 1000 EiB"
        raise ValueError(f"{what} needs {need} of memory, more than {limit[1]}")


def _bytes(n: float) -> str:
    """A byte count in binary units: 820 MiB, 1.5 GiB, ..."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n /= 1024
        i += 1
    return f"{n:.3g} {units[i]}"
