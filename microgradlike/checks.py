"""Checks on what users pass in: the one place that says what counts as a real number or a seed.

Every module that validates arguments reads these rules, so the same input is accepted or
refused, with the same words, everywhere.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
from typing import Any

import numpy as np

__all__ = ["as_real", "check_memory", "check_seed", "float_array", "memory_limit", "short"]


def as_real(x: object) -> float | None:
    """``x`` as a float if it is a real number (numpy scalars included, bool excluded), else None.

    An int too large for a float raises ValueError (it is a number, just not one we can hold)."""
    if type(x) is float:  # the common case first: no isinstance chain
        return x
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        try:
            return float(x)
        except OverflowError:  # a huge int: a number, but not one a float can hold
            raise ValueError(f"the integer {short(x)} is too large for a float "
                             f"(the largest is about 1.8e308)") from None
    return None


def float_array(x: object, name: str, expected: str = "numbers") -> np.ndarray:
    """``np.asarray(x, dtype=float)``, or ValueError saying what is wrong with ``x`` (``name``).

    An int too large for a float is named with its place, "X[0, 1] = 100000000000… (401 digits)
    is too large for a float", where numpy says only "int too large to convert to float"."""
    try:
        return np.asarray(x, dtype=float)
    except OverflowError:
        where, value = _huge_int(x)
        raise ValueError(f"{name}[{', '.join(map(str, where))}] = {short(value)} is too large for a "
                         f"float (the largest is about 1.8e308)") from None
    except (TypeError, ValueError) as e:
        text = str(e) if len(str(e)) <= 200 else f"{str(e)[:199]}…"
        raise ValueError(f"{name} must hold {expected}, got {short(x)} ({text})") from None


def _huge_int(x: object) -> tuple[tuple[int, ...], object]:
    """The place (indices) and value of the first int in nested lists ``x`` beyond a float's range."""
    stack: list[tuple[tuple[int, ...], object]] = [((), x)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, numbers.Integral) and not isinstance(item, bool):
            try:
                float(item)
            except OverflowError:
                return where, item
        elif isinstance(item, list | tuple | np.ndarray):
            stack.extend(reversed([((*where, i), v) for i, v in enumerate(item)]))
    return (), x  # not found: numpy overflowed on something else; name the whole input


def short(x: object, limit: int = 60) -> str:
    """``repr(x)`` cut to ``limit`` characters, so an error message never echoes a huge input."""
    if isinstance(x, int) and not isinstance(x, bool) and abs(x) > 10**limit:
        # counted without str(x), which Python refuses beyond 4300 digits
        digits = int(math.log10(abs(x))) + 1
        digits += (abs(x) >= 10**digits) - (abs(x) < 10 ** (digits - 1))  # log10 may round
        return f"{'-' if x < 0 else ''}{abs(x) // 10 ** (digits - 12)}… ({digits} digits)"
    text = repr(x)
    return text if len(text) <= limit else f"{text[:limit - 1]}… ({len(text)} characters)"


def check_seed(seed: Any, name: str = "seed") -> int | np.random.Generator | None:
    """``seed`` as numpy accepts it: an int >= 0, a numpy Generator, or None (fresh randomness).

    Anything else raises a TypeError or ValueError that names ``name``.
    """
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be an int >= 0 or None, got {type(seed).__name__}: {short(seed)}")
    if seed < 0:
        raise ValueError(f"{name} must be an int >= 0, got {short(seed)}")
    return int(seed)


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
