"""examples/distributed.py under torchrun: data-parallel training gives fit's full-batch model.

The README's torchrun commands run as written (``python -m torch.distributed.run`` for ``torchrun``,
the model written into a temporary folder): two processes on this machine, and two launches as two
machines meeting at 127.0.0.1 (c10d rendezvous on a free port) with shards of unequal size. Each
saved model must equal, to 1e-9 relative, the model that microgradlike's own `fit` trains in one
process, full batch, with the batched engine. The GPU command runs only where torch sees a GPU.
Skipped without torch.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from microgradlike.nn import Module
from microgradlike.train import fit
from tests.test_readme_commands import readme_commands

torch = pytest.importorskip("torch", reason="the example needs PyTorch: pip install torch==2.13.0")

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "distributed.py"
TIMEOUT = 300


def readme_torchrun(pattern: str) -> list[str]:
    """The arguments after ``torchrun`` of the one README command that contains ``pattern``."""
    found = [argv for argv in readme_commands(r"torchrun (.*)") if pattern in " ".join(argv)]
    assert len(found) == 1, f"the README shows one torchrun command with {pattern!r}, found {found}"
    return found[0]


def example():
    """examples/distributed.py as a module (its main() runs only under torchrun)."""
    spec = importlib.util.spec_from_file_location("distributed_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def with_out(argv: list[str], out: Path) -> list[str]:
    """``argv`` with its --out replaced by ``out``."""
    i = argv.index("--out")
    return [*argv[:i + 1], str(out), *argv[i + 2:]]


def launch(argv: list[str]) -> subprocess.Popen:
    """torchrun ``argv`` from the repository's root, in its own process group (to end it whole)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    torchrun = [sys.executable, "-m", "torch.distributed.run", *argv]
    return subprocess.Popen(torchrun, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)


def finish(runs: list[subprocess.Popen], check: bool = True) -> list[str]:
    """Wait for every launch; their outputs. A launch still running after TIMEOUT is ended, with
    its workers (its process group), and the test fails; so does one that fails, with ``check``."""
    outputs = []
    try:
        for run in runs:
            outputs.append(run.communicate(timeout=TIMEOUT)[0])
    finally:
        for run in runs:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
                run.wait()
    for run, output in zip(runs, outputs):
        assert run.returncode == 0 or not check, output
    return outputs


def assert_equals_fit(argv: list[str], saved: Path) -> None:
    """The saved model equals `fit`'s full-batch model with the example's settings (to 1e-9)."""
    module = example()
    args = module.parse_args(argv[argv.index(str(EXAMPLE.relative_to(ROOT))) + 1:])
    X, t = module.moons(args)
    model = module.fresh_model(args)
    fit(model, X, t, loss="hinge", optimizer="adam", lr=args.lr, max_epochs=args.epochs, tol=0,
        batch_size=None, engine="batched")
    ours = np.array([p.data for p in Module.load(saved).parameters()])
    theirs = np.array([p.data for p in model.parameters()])
    worst = np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs))
    assert worst < 1e-9, f"max |Δθ| / max |θ| = {worst:.3g}"


@contextlib.contextmanager
def reserved_port() -> Iterator[int]:
    """A free port on 127.0.0.1, kept from everyone but torchrun while the test runs: a socket stays
    bound to it (not listening) with SO_REUSEADDR, which c10d's store also sets, so the store can
    bind it while bind(0) elsewhere never hands it out and a plain bind is refused. A port merely
    found free could be taken between the finding and torchrun's bind (seconds later, by another
    test's server or connection on a busy machine): the launches would then meet someone else, or
    no one, and exit 1."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def test_a_reserved_port_is_refused_to_others():
    with reserved_port() as port, socket.socket() as other:
        with pytest.raises(OSError):
            other.bind(("127.0.0.1", port))


def test_two_processes_on_one_machine_train_what_fit_trains(tmp_path):
    argv = with_out(readme_torchrun("--nproc-per-node 2"), tmp_path / "moons.json")
    (output,) = finish([launch(argv)])
    said = re.search(r"2 processes on cpu \(gloo\), shards of 200 rows: .* saved the model to", output)
    assert said, output
    assert_equals_fit(argv, tmp_path / "moons.json")


def test_two_machines_meeting_at_one_address_train_what_fit_trains(tmp_path):
    """Two launches, as on two machines; 301 rows, so the shards differ (151 and 150 rows)."""
    argv = [*with_out(readme_torchrun("--nnodes 2"), tmp_path / "moons.json"), "--rows", "301"]
    endpoint = argv.index("--rdzv-endpoint") + 1
    with reserved_port() as port:
        argv[endpoint] = f"127.0.0.1:{port}"
        outputs = finish([launch(argv), launch(argv)])
    said = [o for o in outputs if "saved the model" in o]
    assert len(said) == 1 and "2 processes on cpu (gloo), shards of 150-151 rows" in said[0], outputs
    assert_equals_fit(argv, tmp_path / "moons.json")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_one_process_per_gpu_trains_what_fit_trains(tmp_path):
    argv = with_out(readme_torchrun("--device cuda"), tmp_path / "moons.json")
    (output,) = finish([launch(argv)])
    assert "on cuda (nccl)" in output, output
    assert_equals_fit(argv, tmp_path / "moons.json")


@pytest.mark.parametrize(("argv", "said"), [
    (["--rows", "0"], "argument --rows: must be >= 1, got 0"),
    (["--rows", "1e3"], "argument --rows: expected an integer (digits 0-9, like 300), got '1e3'"),
    (["--epochs", "2.5"], "argument --epochs: expected an integer"),
    (["--seed", "-3"], "argument --seed: must be >= 0, got -3"),
    (["--hidden", "abc"], "argument --hidden: expected widths >= 1 separated by commas, like 16,16"),
    (["--hidden", "16,"], "argument --hidden: expected widths >= 1 separated by commas"),
    (["--hidden", "16,0"], "argument --hidden: expected widths >= 1"),
    (["--lr", "-1"], "argument --lr: must be a finite number > 0, got '-1'"),
    (["--lr", "nan"], "argument --lr: must be a finite number > 0, got 'nan'"),
    (["--lr", "0x10"], "argument --lr: expected a number (digits 0-9"),
    (["--out", " "], "argument --out: expected a file name, got ' '"),
    (["--rows", "9" * 5000], "argument --rows: '99999999999999999999"),
])
def test_bad_arguments_are_one_line_and_exit_2(argv, said, capsys):
    """Attack B14: --rows 0, --hidden abc or --lr -1 gave a traceback in every process."""
    with pytest.raises(SystemExit) as exit:
        example().parse_args(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"distributed.py: error: {said}"), err


@pytest.mark.parametrize("problem", ["--out in a missing folder", "--rows 0", "--rows 1"])
def test_a_mistake_is_said_once_before_training_not_by_a_traceback_per_process(problem, tmp_path):
    """Attack B7 and B14: --out /nonexistent/z.json trained, then process 0 failed in save with a
    traceback (the model lost); a bad argument gave one traceback per process. Now every process
    stops before training, and the mistake is said once (torchrun adds its own report of the exit)."""
    argv = with_out(readme_torchrun("--nproc-per-node 2"), tmp_path / "moons.json")
    if problem == "--out in a missing folder":
        missing = tmp_path / "missing" / "moons.json"
        argv = with_out(argv, missing)
        said = f"distributed.py: error: cannot write --out {missing}: the folder {missing.parent} does not"
    else:
        argv += problem.split()
        said = {"--rows 0": "distributed.py: error: argument --rows: must be >= 1, got 0",
                "--rows 1": "distributed.py: error: --rows 1 rows cannot be shared by 2 processes"}[problem]
    run = launch(argv)
    (output,) = finish([run], check=False)
    assert run.returncode != 0, output
    errors = [line for line in output.splitlines() if line.startswith("distributed.py: error:")]
    assert len(errors) == 1 and errors[0].startswith(said), output
    assert f'{EXAMPLE.name}", line' not in output  # no traceback from a process of the example
    assert "saved the model" not in output and not (tmp_path / "moons.json").exists()


def test_without_torchrun_the_example_says_how_to_launch_it():
    done = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=TIMEOUT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 1 and "torchrun --standalone --nproc-per-node 2" in done.stderr
    assert "Traceback" not in done.stderr
