"""Tests for ``python -m microgradlike graph``: it draws what it is asked, refuses code with one
line on stderr and exit code 2, creates no file when it refuses or cannot render, and says how to
install Graphviz (or use .dot) when ``dot`` is missing."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from microgradlike.cli import main
from microgradlike.viz import format_number

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
NEURON = ["tanh(x*w + b)", "x=2", "w=-3", "b=6.88"]


def run(*args: str, cwd: Path | None = None, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-m", "microgradlike", "graph", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=60)


@needs_dot
@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_draws_the_expression(tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str) -> None:
    out = tmp_path / f"graph{suffix}"
    assert main(["graph", *NEURON, "-o", str(out)]) == 0
    data = out.read_bytes()
    if suffix == ".svg":
        assert b"<svg" in data and b"tanh" in data
    else:
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    t = math.tanh(2 * -3 + 6.88)
    printed = capsys.readouterr().out
    assert f"= {format_number(t)}" in printed
    assert f"∂/∂x = {format_number((1 - t * t) * -3)}" in printed


def test_dot_output_needs_no_graphviz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    out = tmp_path / "graph.dot"
    assert main(["graph", *NEURON, "-o", str(out), "--rankdir", "TB"]) == 0
    source = out.read_text()
    assert source.startswith("digraph") and "rankdir=TB" in source
    t = math.tanh(2 * -3 + 6.88)
    assert f"grad {format_number(1 - t * t)}" in source  # backward ran


def test_no_grad_skips_backward(tmp_path: Path) -> None:
    out = tmp_path / "graph.dot"
    assert main(["graph", *NEURON, "-o", str(out), "--no-grad"]) == 0
    assert "grad" not in out.read_text().replace("digraph", "")


def test_missing_dot_is_one_clear_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    assert main(["graph", *NEURON, "-o", str(tmp_path / "graph.svg")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "apt-get install graphviz" in err
    assert f"-o {tmp_path / 'graph.dot'} writes the DOT source" in err  # in the folder the user gave
    assert list(tmp_path.iterdir()) == []


CODE = [
    "__import__('os').system('touch {marker}')",  # attribute access on a call
    "x.__class__.__bases__",  # attribute access
    "x[0]",  # subscript
    "(lambda: 1)()",  # lambda
    "[c for c in 'abc']",  # comprehension
    "open('{marker}', 'w')",  # an unknown function
    "exec('1')",
]


@pytest.mark.parametrize("expression", CODE)
def test_refuses_code_and_creates_nothing(tmp_path: Path, expression: str) -> None:
    marker = tmp_path / "pwned"
    out = tmp_path / "graph.svg"
    result = run(expression.format(marker=marker), "x=1", "-o", str(out), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "refused" in result.stderr
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []  # neither the picture nor the marker


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["y*2", "x=1"], "unknown name `y`"),
        (["x*2", "x=abc"], "'abc'"),
        (["x*2", "x"], "name=number"),
        (["x*2", "x=1", "x=2"], "bound twice"),
        (["log(x)", "x=-1"], "log"),
        (["x/0", "x=1"], "division by zero"),
        (["x +", "x=1"], "not a valid expression"),
        (["x*2", "x=1", "y=1"], "y is bound but 'x*2' does not use it: drop it"),
        (["x*2", "x=1", "wx=1", "y=2"], "wx, y are bound but 'x*2' does not use them"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      args: list[str], named: str) -> None:
    assert main(["graph", *args, "-o", str(tmp_path / "graph.dot")]) == 2
    err = capsys.readouterr().err.strip()
    assert named in err and "\n" not in err
    assert list(tmp_path.iterdir()) == []


def test_unknown_suffix_and_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", *NEURON, "-o", str(tmp_path / "graph.jpg")]) == 2
    assert ".jpg" in capsys.readouterr().err
    assert main(["graph", *NEURON, "-o", str(tmp_path / "nowhere" / "graph.svg")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


#: Suffixes a user might try; graph.save writes some of them.
CANDIDATE_SUFFIXES = (".svg", ".png", ".pdf", ".dot", ".gv", ".jpg", ".gif", ".ps", ".txt", ".json", ".SVG",
                      "")


@needs_dot
def test_graph_writes_every_suffix_that_graph_save_writes_and_refuses_the_others(tmp_path: Path,
                                                                                 capsys) -> None:
    """-o g.pdf was refused ("the suffix must be .svg, .png, .dot or .html") though graph.save
    writes .pdf: the command line writes what the library writes, plus the .html explorer."""
    from microgradlike import Value
    from microgradlike.viz import draw_dot

    picture = draw_dot(Value(2.0, label="x") * 3)
    for suffix in CANDIDATE_SUFFIXES:
        try:
            picture.save(str(tmp_path / f"lib{suffix}"))
            saved = True
        except ValueError:
            saved = False
        out = tmp_path / f"cli{suffix}"
        code = main(["graph", *NEURON, "-o", str(out)])
        err = capsys.readouterr().err
        assert (code == 0) == saved, (suffix, err)
        if saved:
            assert out.read_bytes()[:4] == (tmp_path / f"lib{suffix}").read_bytes()[:4], suffix
        else:
            allowed = ".svg, .png, .pdf, .dot, .gv or .html"
            said = f"the suffix must be {allowed}, not {suffix}" if suffix else f"it must end in {allowed}"
            assert err.endswith(f"{said}\n") and err.count("\n") == 1, err
            assert not out.exists()


def test_subprocess_success_prints_a_summary(tmp_path: Path) -> None:
    result = run(*NEURON, "-o", "graph.dot", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "graph.dot").exists() and "wrote graph.dot" in result.stdout


def test_an_expression_starting_with_minus_gets_a_hint_to_use_double_dash(tmp_path: Path) -> None:
    result = run("-x*2", "x=3", "-o", "graph.dot", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert "unrecognized arguments: -x*2" in error and '-o graph.svg -- "-x*2" x=3' in error
    hinted = run("-o", "graph.dot", "--", "-x*2", "x=3", cwd=tmp_path)  # the hint works as written
    assert hinted.returncode == 0 and "-x*2 = -6" in hinted.stdout
    alone = run("-x*2", "-o", "graph.dot", cwd=tmp_path)  # no binding: argparse misses the expression
    assert alone.returncode == 2 and "goes after '--'" in alone.stderr


def test_train_gets_no_expression_hint(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "-x"])
    err = capsys.readouterr().err
    assert "unrecognized arguments: -x" in err and "expression" not in err


@pytest.mark.parametrize("args", [
    ['"\x1b[31mred"', "x=1"],  # refused: a string, quoted back from the source
    ["x", "x=1", "-o", "/no/such\x1b[2J/graph.dot"],  # the missing folder is named
    ["x\x1b]0;title\x07", "x=1"],
    ["1" + "0" * 400 + "*x", "x=1"],
])
def test_errors_are_one_printable_line(tmp_path: Path, args: list[str]) -> None:
    if "-o" not in args:
        args = [*args, "-o", str(tmp_path / "graph.dot")]
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not any(c in result.stderr for c in "\x1b\x07") and len(result.stderr) < 1000
    assert list(tmp_path.iterdir()) == []


def test_success_echoes_no_control_characters(tmp_path: Path) -> None:
    result = run("x*2", "x=3", "-o", "g\x1b[31m.dot", cwd=tmp_path)
    assert result.returncode == 0 and "\x1b" not in result.stdout and "g\\x1b[31m.dot" in result.stdout


def test_an_output_that_is_a_folder_is_refused_before_drawing(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "out.dot"
    folder.mkdir()
    assert main(["graph", *NEURON, "-o", str(folder)]) == 2
    assert "it is a folder" in capsys.readouterr().err and folder.is_dir()


def test_a_slow_dot_is_one_clear_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bin" / "dot"  # a stand-in for a dot that takes forever
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    monkeypatch.setattr("microgradlike.viz.ComputationGraph.timeout", 0.5)
    assert main(["graph", *NEURON, "-o", str(tmp_path / "graph.svg")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "within 0.5 s" in err and f"-o {tmp_path / 'graph.dot'} writes the DOT source" in err
    assert not (tmp_path / "graph.svg").exists()


@pytest.mark.parametrize("args", [
    ["tanh(x*w + b)", "-o", "{out}", "x=2", "w=-3", "b=6.88"],  # options after the bindings
    ["tanh(x*w + b)", "x=2", "--rankdir", "TB", "w=-3", "-o", "{out}", "b=6.88"],  # and between them
    ["-o", "{out}", "tanh(x*w + b)", "x=2", "w=-3", "b=6.88"],
])
def test_options_may_come_anywhere(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   args: list[str]) -> None:
    out = tmp_path / "graph.dot"
    assert main(["graph", *(arg.format(out=out) for arg in args)]) == 0
    assert out.read_text().startswith("digraph")
    assert f"∂/∂b = {format_number(1 - math.tanh(2 * -3 + 6.88) ** 2)}" in capsys.readouterr().out


def test_a_name_ending_with_a_slash_writes_no_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["graph", *NEURON, "-o", f"{tmp_path}/newdir.dot/"]) == 2
    err = capsys.readouterr().err
    assert "it names a folder (it ends with '/'), not a file" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="/dev/full is Linux's always-full device")
def test_a_full_standard_output_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "microgradlike", "graph", *NEURON, "-o", "g.dot"],
                              stdout=full, stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 1 and (tmp_path / "g.dot").exists()  # the file was written first
    assert done.stderr == ("python -m microgradlike graph: error: cannot write to the standard output: "
                           "[Errno 28] No space left on device\n")


def test_usage_errors_are_one_line_without_the_usage_block(tmp_path: Path) -> None:
    for args in (["-o", "g.dot"], ["x", "x=1"], ["x", "x=1", "-o", "g.dot", "--rankdir", "up"]):
        result = run(*args, cwd=tmp_path)
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith("python -m microgradlike graph: error: ")


@pytest.mark.parametrize("suffix", [".dot", ".svg", ".html"])
def test_a_read_only_output_is_kept_even_for_root(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                  suffix: str) -> None:
    """Attack A2: os.access says yes to root, so `chmod 444` did not keep the file."""
    out = tmp_path / f"ro{suffix}"
    out.write_text("keep")
    out.chmod(0o444)
    assert main(["graph", "x*2", "x=1", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "the file is read-only" in err and err.count("\n") == 1
    assert out.read_text() == "keep"


@pytest.mark.parametrize("args", [["x*2", "x=1_000"], ["x*2", "x=\uff11"], ["x*2", "x=\u0663"],
                                  ["x*1_000", "x=1"], ["x*0x10", "x=1"]])
def test_numbers_are_read_by_the_rule_of_the_csv_reader(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                        args: list[str]) -> None:
    """Attack A27: x=1_000, x=１ and x=٣ were read as numbers, which a CSV cell may not be."""
    out = tmp_path / "g.dot"
    assert main(["graph", *args, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "(digits 0-9 with an optional sign, point and exponent" in err and err.count("\n") == 1
    assert not out.exists()
