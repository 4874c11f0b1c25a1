"""Build the course notebooks: each jupytext source ``NN_name.py`` (py:percent, the file to review
and edit) becomes ``NN_name.ipynb``, executed top to bottom with its outputs (pictures as PNG),
and stripped of what changes from run to run (execution counts, timings, widget state, the
kernel's version), so that a rebuild changes only what the lesson changed.

A lesson is run again only when what its outputs come from has changed: its source, or the
library it imports (every file under ``microgradlike/``, and this builder). Both are hashed
into the notebook's metadata when it is built; a lesson whose hashes still match is left as it
is, byte for byte. (Running it again would not give the same bytes: lessons print timings, and
one needs PyTorch, which not every machine has.)

    python notebooks/build.py            # every notebook whose lesson or library changed
    python notebooks/build.py 02 04      # only those whose name starts with 02 or 04
    python notebooks/build.py --force 05 # run 05 again even though nothing changed
    python notebooks/build.py --check    # rebuild nothing; list the .ipynb that differ from their .py

The kernel imports microgradlike from this checkout (its folder goes first on PYTHONPATH), so a
notebook always shows the code next to it. Needs the ``notebooks`` or ``test`` extra (jupytext,
nbclient, ipykernel, matplotlib). tests/test_notebooks.py uses the same functions.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple, NoReturn

import jupytext
import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: A lesson must run top to bottom within this many seconds (of processor time).
TIME_LIMIT = 60
#: A widget's output: a view of state that lives in the kernel, so it is not kept (run the cell to see it).
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: The notebook metadata key holding the hashes of what it was built from (see `digests`).
BUILT_FROM = "microgradlike"


def sources() -> list[Path]:
    """The lessons' jupytext sources, in course order: ``NN_name.py`` (files: not a folder so named)."""
    return sorted(path for path in HERE.glob("[0-9][0-9]_*.py") if path.is_file())


def from_source(source: Path) -> nbformat.NotebookNode:
    """The notebook a source describes, without outputs."""
    return jupytext.read(source)


def _sha256(chunks: list[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(len(chunk).to_bytes(8, "little"))  # so that no two lists hash alike
        digest.update(chunk)
    return digest.hexdigest()


@functools.cache
def library_digest() -> str:
    """A hash of what every lesson's outputs depend on besides its own source: each file under
    ``microgradlike/`` (its path and its bytes; caches left out) and this builder."""
    package = ROOT / "microgradlike"

    def cache(path: Path) -> bool:  # __pycache__, .mypy_cache and the like
        return any(part.startswith((".", "__pycache__")) for part in path.relative_to(package).parts)

    files = sorted(path for path in package.rglob("*") if path.is_file() and not cache(path))
    chunks = [b for path in files for b in (path.relative_to(ROOT).as_posix().encode(), path.read_bytes())]
    return _sha256([*chunks, Path(__file__).read_bytes()])


def digests(source: Path) -> dict[str, str]:
    """What a notebook is built from, as hashes: its lesson's source and the library."""
    return {"lesson_sha256": _sha256([source.read_bytes()]), "library_sha256": library_digest()}


class Unreadable(Exception):
    """A notebook file that cannot be read as a notebook (not JSON, not a notebook's JSON, a
    folder, unreadable): the message says which, and why, in one line."""


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path``; `Unreadable` when it is none."""
    try:
        return nbformat.read(path, as_version=4)
    except Exception as e:  # of many kinds: NotJSONError, ValidationError, TypeError, OSError, ...
        reason = " ".join(str(e).split())  # one line
        reason = reason if len(reason) <= 200 else reason[:199] + "…"
        raise Unreadable(f"{path} cannot be read as a notebook ({type(e).__name__}: {reason})") from None


def is_current(source: Path) -> bool:
    """True when ``source``'s notebook exists and was built from this very source and library
    (a notebook that cannot be read is not: building writes it anew)."""
    path = source.with_suffix(".ipynb")
    if not path.is_file():
        return False
    try:
        built_from = read_notebook(path).metadata.get(BUILT_FROM, {})
    except Unreadable:
        return False
    return dict(built_from) == digests(source)


class Timing(NamedTuple):
    """How long a notebook's run took: ``seconds`` on the clock (its cells only) and ``cpu``, the
    processor time of the kernel and what it ran (start-up included; the clock time of a machine
    shared with other work says little, the processor time stays the same)."""

    seconds: float
    cpu: float


def _children_cpu() -> float:
    """Processor seconds used by this process's finished children (0 where the OS cannot say)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: float = 5 * TIME_LIMIT) -> Timing:
    """Run every cell of ``nb``, in order, in a fresh kernel started in ``cwd``; return how long
    it took.

    Raises nbclient's CellExecutionError (naming the cell) when a cell fails, and its timeout
    error when one cell runs longer than ``timeout`` seconds (a guard against a hung cell).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["TQDM_DISABLE"] = "1"  # no progress bars in committed outputs
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(cwd)}})
    client.reset_execution_trackers()
    cpu_before = _children_cpu()
    with tempfile.TemporaryDirectory(prefix="kernel-") as sockets:
        kernel = client.create_kernel_manager()
        if os.name == "posix":
            # Unix sockets in a private folder rather than TCP ports: nothing else on the machine
            # can talk to the kernel, and it has no reason to warn about plain-text TCP
            kernel.transport, kernel.ip = "ipc", os.path.join(sockets, "kernel")
        with client.setup_kernel(env=env):
            start = time.perf_counter()
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
            seconds = time.perf_counter() - start
    # the kernel has been shut down and waited for: its processor time is now counted
    cpu = _children_cpu() - cpu_before
    return Timing(seconds, cpu if cpu > 0 else seconds)


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove from ``nb`` (in place, and return it) what differs between two runs of the same
    source: execution counts, cell timings, widget state and widget outputs (they need a live
    kernel), the kernel's language version, and how printed text was split into chunks (joined
    into one output per stream). Cell ids are made from the cells' contents, so they too stay
    the same. What the notebook was built from (`BUILT_FROM`) is kept."""
    formats = nb.metadata.get("jupytext", {}).get("formats", "ipynb,py:percent")
    kept = {"jupytext": {"formats": formats}}
    for key in ("kernelspec", BUILT_FROM):  # which kernel runs it, and what it was built from
        if key in nb.metadata:
            kept[key] = nb.metadata[key]
    nb.metadata = nbformat.from_dict(kept)
    seen: dict[str, int] = {}
    for cell in nb.cells:
        cell.metadata = nbformat.from_dict({k: v for k, v in cell.metadata.items() if k != "execution"})
        digest = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:8]
        seen[digest] = seen.get(digest, 0) + 1
        cell.id = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
        if cell.cell_type != "code":
            continue
        cell.execution_count = None
        outputs = []
        for output in cell.outputs:
            if _WIDGET_VIEW in output.get("data", {}):
                continue
            if "execution_count" in output:
                output.execution_count = None
            previous = outputs[-1] if outputs else None
            if (output.output_type == "stream" and previous is not None
                    and previous.output_type == "stream" and previous.name == output.name):
                previous.text += output.text  # how printed text comes in chunks depends on timing
                continue
            outputs.append(output)
        cell.outputs = outputs
    return nb


def write(nb: nbformat.NotebookNode, path: Path) -> None:
    """Write ``nb`` to ``path`` atomically (the old notebook or the new one, never half of one),
    keeping the old file's permissions (a new file follows the umask)."""
    nbformat.validate(nb)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "x", encoding="utf-8") as f:
            nbformat.write(nb, f)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def cells(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """What a notebook says, without its outputs: (cell type, source) per cell."""
    return [(cell.cell_type, cell.source.strip()) for cell in nb.cells]


def build(source: Path, force: bool = False) -> Timing | None:
    """Execute ``source``'s notebook and write it, with its outputs and what it was built from,
    beside it; how long it ran. None, and nothing written, when the notebook is current (see
    `is_current`) and ``force`` is false."""
    notebook = source.with_suffix(".ipynb")
    if notebook.exists() and not notebook.is_file():  # before running the lesson for nothing
        raise Unreadable(f"{notebook} is not a file (a folder?), so the notebook cannot be written there")
    if not force and is_current(source):
        return None
    built_from = digests(source)  # before running: a file edited meanwhile gets the next build
    nb = from_source(source)
    timing = execute(nb, source.parent)
    nb.metadata[BUILT_FROM] = built_from
    write(strip(nb), notebook)
    return timing


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (``--help`` shows the usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python notebooks/build.py", description=__doc__.split("\n\n")[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="*", help="build only these (name prefixes)")
    mode = parser.add_mutually_exclusive_group()  # --check runs nothing, so it cannot force a run
    mode.add_argument("--check", action="store_true", help="only list notebooks out of date with their .py")
    mode.add_argument("--force", action="store_true",
                      help="run the chosen lessons even when nothing they are built from changed")
    args = parser.parse_args(argv)
    chosen = [s for s in sources() if not args.prefixes or s.name.startswith(tuple(args.prefixes))]
    if not chosen:
        print(f"no notebook source matches {' '.join(args.prefixes)!r} in {HERE}", file=sys.stderr)
        return 2
    try:
        return check(chosen) if args.check else _build_all(chosen, args.force)
    except (Unreadable, OSError) as e:  # a notebook that is no notebook (a folder, say): one line
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2


def _build_all(chosen: list[Path], force: bool) -> int:
    for source in chosen:
        name = source.with_suffix(".ipynb").name
        timing = build(source, force=force)
        if timing is None:
            print(f"{name}: current (its lesson and the library are what it was built from): not run")
            continue
        slow = f"  (over the {TIME_LIMIT} s a lesson may take)" if timing.cpu > TIME_LIMIT else ""
        print(f"{name}: ran in {timing.seconds:.1f} s ({timing.cpu:.1f} s of processor time){slow}")
    return 0


def check(chosen: list[Path]) -> int:
    """``--check``: 1, naming them, if some notebooks say other than their source; else 0, saying
    what was checked (and which notebooks a build would run again, for a changed library)."""
    stale = [s for s in chosen if not s.with_suffix(".ipynb").exists()
             or cells(read_notebook(s.with_suffix(".ipynb"))) != cells(from_source(s))]
    for s in stale:
        print(f"{s.with_suffix('.ipynb').name} is out of date: python notebooks/build.py {s.name[:2]}")
    if stale:
        return 1
    print(f"checked {len(chosen)} notebooks: each says what its .py source says, cell for cell")
    older = [s.name[:2] for s in chosen if not is_current(s)]
    if older:
        print(f"{len(older)} of them were built from another version of the library or of their "
              f"lesson (outputs only): python notebooks/build.py {' '.join(older)} runs them again")
    return 0


if __name__ == "__main__":
    sys.exit(main())
