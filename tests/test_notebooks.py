"""The course notebooks are lessons and tests.

Each ``notebooks/NN_name.ipynb`` is paired with its jupytext source ``NN_name.py`` (the file to
review), and is committed WITH its outputs, so a learner browsing the repository sees every
picture. The tests check that the two say the same, that the committed notebook holds pictures
(as PNG) and no error, nothing that changes from run to run, and that it still runs top to bottom
within the time a lesson may take (a minute of processor time), giving the same kinds of output in
every cell.

``python notebooks/build.py`` rebuilds them; these tests use its functions.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("jupytext")

HERE = Path(__file__).resolve().parent.parent / "notebooks"
_spec = importlib.util.spec_from_file_location("notebooks_build", HERE / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

NOTEBOOKS = sorted(HERE.glob("*.ipynb"))
REBUILD = "rebuild it: python notebooks/build.py {prefix}"


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _outputs(nb) -> list:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


def _kinds(nb) -> list[list[tuple[str, ...]]]:
    """Per code cell, the kinds of output it made: ("stream", "stdout") for printed text (runs of
    it counted once: how a print is split into chunks depends on timing) and (output type, MIME
    types...) for the rest. stderr is left out: warnings depend on the machine."""
    kinds = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        shown: list[tuple[str, ...]] = []
        for out in cell.outputs:
            if out.output_type == "stream":
                kind: tuple[str, ...] = ("stream", out.name)
                if out.name == "stderr" or (shown and shown[-1] == kind):
                    continue
            else:
                kind = (out.output_type, *sorted(out.get("data", {})))
            shown.append(kind)
        kinds.append(shown)
    return kinds


def test_the_course_has_ten_lessons_each_with_its_source():
    numbers = sorted({path.name[:2] for path in NOTEBOOKS})
    assert numbers[:10] == [f"{k:02d}" for k in range(1, 11)], f"lessons found: {numbers}"
    assert [p.stem for p in NOTEBOOKS] == [p.stem for p in build.sources()], (
        "every notebook needs its jupytext source NN_name.py, and every source its notebook"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_matches_its_py_source(path: Path):
    source = path.with_suffix(".py")
    assert source.exists(), f"{path.name} has no paired {source.name} (jupytext py:percent)"
    assert build.cells(_read(path)) == build.cells(build.from_source(source)), (
        f"{path.name} and {source.name} differ: " + REBUILD.format(prefix=path.name[:-6])
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_with_its_pictures_and_no_error(path: Path):
    outputs = _outputs(_read(path))
    errors = [f"{out.ename}: {out.evalue}" for out in outputs if out.output_type == "error"]
    assert not errors, f"{path.name} was committed with errors: {errors}"
    tracebacks = [out.text for out in outputs if out.output_type == "stream" and "Traceback" in out.text]
    assert not tracebacks, f"{path.name} printed a traceback: {tracebacks[0][:300]}"
    pictures = [out for out in outputs if "image/png" in out.get("data", {})]
    assert pictures, f"{path.name} holds no picture: " + REBUILD.format(prefix=path.name[:-6])
    svg_only = [out for out in outputs if "image/svg+xml" in out.get("data", {})
                and "image/png" not in out.get("data", {})]
    assert not svg_only, f"{path.name}: pictures must be PNG too (graphviz.set_jupyter_format('png'))"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_holds_nothing_that_changes_from_run_to_run(path: Path):
    nb = _read(path)
    assert build.strip(copy.deepcopy(nb)) == nb, (
        f"{path.name} holds execution counts, timings, widget state or random cell ids: "
        + REBUILD.format(prefix=path.name[:-6])
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_within_a_minute_as_committed(path: Path, tmp_path: Path):
    fresh = build.from_source(path.with_suffix(".py"))
    timing = build.execute(fresh, tmp_path)  # raises CellExecutionError, naming the cell, if one fails
    assert not [out for out in _outputs(fresh) if out.output_type == "error"]
    # processor time: on a machine shared with other work the clock says little about the lesson
    assert timing.cpu < build.TIME_LIMIT, f"{path.name} took {timing.cpu:.0f} s of processor time"
    assert _kinds(build.strip(fresh)) == _kinds(_read(path)), (
        f"{path.name}'s committed outputs are not what its cells make now: "
        + REBUILD.format(prefix=path.name[:-6])
    )


# ---- the builder: a rebuild changes only what changed -------------------------------------------
def _tiny_lesson(folder: Path) -> Path:
    """A lesson whose output differs on every run, as timings do."""
    source = folder / "01_tiny.py"
    source.write_text("# %%\nimport random\n\nprint(random.random())\n", encoding="utf-8")
    return source


def test_a_second_build_of_an_unchanged_lesson_leaves_its_notebook_byte_identical(tmp_path: Path, capfd):
    source = _tiny_lesson(tmp_path)
    notebook = source.with_suffix(".ipynb")
    assert build.build(source) is not None, "a lesson without a notebook must run"
    first = notebook.read_bytes()
    assert build.build(source) is None, "nothing it is built from changed: it must not run again"
    assert notebook.read_bytes() == first
    assert "TCP" not in capfd.readouterr().err  # the kernel's warning about plain-text TCP


def test_a_changed_lesson_or_library_runs_the_lesson_again(tmp_path: Path, monkeypatch):
    source = _tiny_lesson(tmp_path)
    notebook = source.with_suffix(".ipynb")
    build.build(source)
    first = notebook.read_bytes()
    monkeypatch.setattr(build, "library_digest", lambda: "0" * 64)  # as after an edit of microgradlike/
    assert not build.is_current(source)
    assert build.build(source) is not None and notebook.read_bytes() != first
    monkeypatch.undo()
    source.write_text(source.read_text(encoding="utf-8") + "print('one more line')\n", encoding="utf-8")
    assert build.build(source) is not None
    assert "one more line" in notebook.read_text(encoding="utf-8")
    assert build.is_current(source)
    assert build.build(source, force=True) is not None  # --force runs it all the same


def test_the_library_digest_follows_the_library_files_and_not_their_caches():
    package = build.ROOT / "microgradlike"
    build.library_digest.cache_clear()
    before = build.library_digest()
    probes = [package / "__pycache__" / "probe.tmp", package / "probe_for_the_digest_test.txt"]
    probes[0].parent.mkdir(exist_ok=True)
    try:
        probes[0].write_text("a cache file changes no lesson", encoding="utf-8")
        build.library_digest.cache_clear()
        assert build.library_digest() == before
        probes[1].write_text("a library file may", encoding="utf-8")
        build.library_digest.cache_clear()
        assert build.library_digest() != before
    finally:
        for probe in probes:
            probe.unlink(missing_ok=True)
        build.library_digest.cache_clear()
    assert build.library_digest() == before


def test_check_says_what_it_checked(capsys):
    assert build.main(["--check"]) == 0
    out = capsys.readouterr().out
    assert f"checked {len(build.sources())} notebooks" in out, out


@pytest.mark.parametrize("notebook_is", ["not JSON", "a JSON list", "a folder"])
def test_check_says_in_one_line_what_is_wrong_with_a_notebook_file(tmp_path: Path, monkeypatch, capsys,
                                                                   notebook_is):
    """A corrupt .ipynb gave nbformat's NotJSONError traceback, a folder IsADirectoryError."""
    monkeypatch.setattr(build, "HERE", tmp_path)
    notebook = _tiny_lesson(tmp_path).with_suffix(".ipynb")
    if notebook_is == "a folder":
        notebook.mkdir()
    else:
        notebook.write_text("{not json" if notebook_is == "not JSON" else "[]", encoding="utf-8")
    assert build.main(["--check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"error: {notebook} cannot be read as a notebook (" in err, err


def test_building_onto_a_folder_named_like_the_notebook_is_one_line_before_running_anything(
        tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setattr(build, "HERE", tmp_path)
    notebook = _tiny_lesson(tmp_path).with_suffix(".ipynb")
    notebook.mkdir()
    monkeypatch.setattr(build, "execute", lambda *a, **k: pytest.fail("the lesson ran"))
    assert build.main([]) == 2
    err = capsys.readouterr().err
    assert err == (f"python notebooks/build.py: error: {notebook} is not a file (a folder?), so the notebook "
                   f"cannot be written there\n")


def test_check_and_force_together_are_refused_in_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        build.main(["--check", "--force"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force: not allowed with argument --check" in err, err
