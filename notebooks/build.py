"""Build the course notebooks: each jupytext source ``NN_name.py`` (py:percent, the file to review
and edit) becomes ``NN_name.ipynb``, executed top to bottom with its outputs (pictures as PNG),
and stripped of what changes from run to run (execution counts, timings, widget state, the
kernel's version), so that a rebuild changes only what the lesson changed.

    python notebooks/build.py            # every notebook
    python notebooks/build.py 02 04      # those whose name starts with 02 or 04
    python notebooks/build.py --check    # rebuild nothing; list the .ipynb that differ from their .py

The kernel imports microgradlike from this checkout (its folder goes first on PYTHONPATH), so a
notebook always shows the code next to it. Needs the ``notebooks`` or ``test`` extra (jupytext,
nbclient, ipykernel, matplotlib). tests/test_notebooks.py uses the same functions.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import NamedTuple

import jupytext
import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: A lesson must run top to bottom within this many seconds (of processor time).
TIME_LIMIT = 60
#: A widget's output: a view of state that lives in the kernel, so it is not kept (run the cell to see it).
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def sources() -> list[Path]:
    """The lessons' jupytext sources, in course order: ``NN_name.py``."""
    return sorted(HERE.glob("[0-9][0-9]_*.py"))


def from_source(source: Path) -> nbformat.NotebookNode:
    """The notebook a source describes, without outputs."""
    return jupytext.read(source)


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
    the same."""
    formats = nb.metadata.get("jupytext", {}).get("formats", "ipynb,py:percent")
    nb.metadata = nbformat.from_dict({"jupytext": {"formats": formats},
                                      "kernelspec": nb.metadata.get("kernelspec", {})})
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


def build(source: Path) -> Timing:
    """Execute ``source``'s notebook and write it, with its outputs, beside it; how long it ran."""
    nb = from_source(source)
    timing = execute(nb, HERE)
    write(strip(nb), source.with_suffix(".ipynb"))
    return timing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="*", help="build only these (name prefixes)")
    parser.add_argument("--check", action="store_true", help="only list notebooks out of date with their .py")
    args = parser.parse_args(argv)
    chosen = [s for s in sources() if not args.prefixes or s.name.startswith(tuple(args.prefixes))]
    if not chosen:
        print(f"no notebook source matches {' '.join(args.prefixes)!r} in {HERE}", file=sys.stderr)
        return 2
    if args.check:
        stale = [s for s in chosen if not s.with_suffix(".ipynb").exists()
                 or cells(nbformat.read(s.with_suffix(".ipynb"), as_version=4)) != cells(from_source(s))]
        for s in stale:
            print(f"{s.with_suffix('.ipynb').name} is out of date: python notebooks/build.py {s.name[:2]}")
        return 1 if stale else 0
    for source in chosen:
        timing = build(source)
        slow = f"  (over the {TIME_LIMIT} s a lesson may take)" if timing.cpu > TIME_LIMIT else ""
        print(f"{source.with_suffix('.ipynb').name}: ran in {timing.seconds:.1f} s "
              f"({timing.cpu:.1f} s of processor time){slow}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
