"""Data-parallel training (数据并行): one MLP trained by several processes, each on its shard of the rows,
with PyTorch's DistributedDataParallel (DDP); the result is saved as a microgradlike model.

Launch it with torchrun, which starts the processes and tells each one its rank r and their number W:

    torchrun --standalone --nproc-per-node 2 examples/distributed.py                  # 2 on the CPU (gloo)
    torchrun --standalone --nproc-per-node gpu examples/distributed.py --device cuda  # 1 per GPU (NCCL)

Each process makes the same dataset and the same starting model (same seeds), keeps rows r, r + W,
r + 2W, … (its shard), and wraps the bridged model (`bridge.to_torch`) in DDP, which averages the
gradients over the processes during backward(). Training is full-batch, so one update of all the
processes together is one full-batch update. Why the average is the full-batch gradient: process r
computes ∇Lᵣ, the gradient of its mean loss Lᵣ = (1/Nᵣ)·Σ_{i in shard r} ℓᵢ. With equal shards
(Nᵣ = N/W), (1/W)·Σᵣ ∇Lᵣ = (1/N)·Σᵢ ∇ℓᵢ. When N is not a multiple of W the shards differ by one row,
and the plain average would weigh the rows of the smaller shards more; so each process scales its
loss by W·Nᵣ/N, and (1/W)·Σᵣ (W·Nᵣ/N)·∇Lᵣ = (1/N)·Σᵢ ∇ℓᵢ again, for any shard sizes.

Process 0 saves the trained model as JSON (`Module.save`, read back with `Module.load(path)`), with
what its output means, so `model.predict(X)` gives labels 0/1.
Run: torchrun --standalone --nproc-per-node 2 examples/distributed.py [--out moons.json] [--device cuda]

Before anything is trained, every process checks the arguments (numbers by the command line's rule,
`data.read_number`) and process 0 that --out can be written (`files.check_writable`), then tells the
others: a mistake ends every process with one line, said once per machine (by its local rank 0), and
exit status 2, never a model trained only to be lost (torchrun then adds its own report of the exit).
"""

import argparse
import os
import sys

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from microgradlike.bridge import from_torch, to_torch, torch_loss
from microgradlike.checks import printable, short
from microgradlike.data import NUMBER_RULE, make_moons, read_integer, read_number
from microgradlike.files import check_writable
from microgradlike.nn import MLP

LAUNCH = "torchrun --standalone --nproc-per-node 2 examples/distributed.py"
PROG = "distributed.py"


def fail(message=None):
    """End this process with exit status 2, and ``message`` on one line of stderr, said by the
    machine's first process (local rank 0) alone: every process torchrun starts finds the same mistake."""
    if message is not None and os.environ.get("LOCAL_RANK", "0") == "0":
        print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(2)


class Parser(argparse.ArgumentParser):
    """argparse, with its error on one line, said once per machine (`fail`)."""

    def error(self, message):
        fail(message)


def whole_number(least):
    """An argparse type: an integer >= ``least``, written as the command line reads one."""
    def read(text):
        try:
            value = read_integer(text.strip())
        except ValueError:  # more digits than Python converts (4300)
            raise argparse.ArgumentTypeError(f"{short(text)} is too large") from None
        if value is None:
            raise argparse.ArgumentTypeError(f"expected an integer (digits 0-9, like 300), got {short(text)}")
        if value < least:
            raise argparse.ArgumentTypeError(f"must be >= {least}, got {short(value)}")
        return value
    return read


def learning_rate(text):
    value = read_number(text.strip())
    if value is None:
        raise argparse.ArgumentTypeError(f"expected a number ({NUMBER_RULE}), got {short(text)}")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {short(text)}")
    return value


def widths(text):
    """'16,16' -> [16, 16]; 'none' -> [] (no hidden layer)."""
    if text.strip().lower() == "none":
        return []
    try:
        return [whole_number(1)(part) for part in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected widths >= 1 separated by commas, like 16,16 (or none), "
                                         f"got {short(text)}") from None


def file_name(text):
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a file name, got {short(text)}")
    return text


def parse_args(argv=None):
    parser = Parser(prog=PROG, description=__doc__.split("\n\n")[0], epilog=LAUNCH)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cpu (the gloo backend) or cuda: process r uses GPU r of its machine (NCCL)")
    # (not --n: torchrun would take that for an abbreviation of its own --nnodes)
    option = parser.add_argument
    option("--rows", type=whole_number(1), default=400, help="rows of two moons (default: %(default)s)")
    option("--hidden", type=widths, default="16,16", help="hidden layer widths (default: %(default)s)")
    option("--epochs", type=whole_number(1), default=100, help="full-batch updates (default: %(default)s)")
    option("--lr", type=learning_rate, default=0.05, help="Adam's learning rate (default: %(default)s)")
    option("--seed", type=whole_number(0), default=0, help="seeds data and weights (default: %(default)s)")
    option("--out", type=file_name, default="distributed.json", help="the model file (default: %(default)s)")
    return parser.parse_args(argv)


def moons(args):
    """Every process makes the same rows X and targets t in {-1, +1} (for the hinge loss)."""
    X, y = make_moons(n=args.rows, noise=0.2, seed=args.seed)
    return X, 2 * y - 1


def fresh_model(args):
    """The same starting MLP in every process: the seed fixes the weights."""
    return MLP(2, [*args.hidden, 1], activation="relu", seed=args.seed)


def out_refusal(path):
    """Why the model could not be saved to ``path`` (as `Module.save` would fail), or None."""
    try:
        check_writable(path)
    except OSError as e:
        return f"cannot write --out {printable(path)}: {e.strerror}"
    return None


def main(argv=None):
    args = parse_args(argv)
    if "RANK" not in os.environ:
        sys.exit(f"start this example with torchrun, which launches the processes: {LAUNCH}")
    if args.device == "cuda" and not torch.cuda.is_available():
        fail(f"--device cuda needs a GPU, and torch {torch.__version__} sees none: leave out --device")
    try:  # a size this machine cannot hold is refused by name (memory.check_memory)
        X, t = moons(args)
        model = fresh_model(args)
    except ValueError as e:
        fail(str(e))
    dist.init_process_group("nccl" if args.device == "cuda" else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.device == "cuda":  # process r of a machine uses that machine's GPU r
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    # --out is process 0's to write: it checks, and tells every process whether to go on
    refusal = out_refusal(args.out) if rank == 0 else None
    refused = torch.tensor([refusal is not None], dtype=torch.int32, device=device)
    dist.broadcast(refused, src=0)
    if refused.item() or args.rows < world:
        dist.destroy_process_group()
        fail(refusal if refused.item() else
             f"--rows {args.rows} rows cannot be shared by {world} processes: each needs at least one")
    shard = slice(rank, None, world)  # rows r, r + W, r + 2W, ...
    X_r = torch.tensor(X[shard], dtype=torch.float64, device=device)
    t_r = torch.tensor(t[shard], dtype=torch.float64, device=device)
    weight = world * len(X_r) / args.rows  # W·Nᵣ/N: 1 when the shards are equal

    net = DistributedDataParallel(to_torch(model).to(device),
                                  device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    hinge = torch_loss("hinge")
    for _ in range(args.epochs):
        optimizer.zero_grad()
        loss = weight * hinge(net(X_r).squeeze(-1), t_r)
        loss.backward()  # DDP averages the gradients over the processes here
        optimizer.step()

    with torch.no_grad():  # the full training loss: the mean over processes of the weighted shard losses
        total = weight * hinge(net(X_r).squeeze(-1), t_r)
        dist.all_reduce(total)
    if rank == 0:
        model = from_torch(net.module)  # back to a microgradlike MLP, on the CPU
        model.set_task("classification", classes=[0, 1], loss="hinge")
        model.save(args.out)
        accuracy = np.mean(model.predict(X) == (t > 0))
        print(f"{world} processes on {args.device} ({dist.get_backend()}), shards of "
              f"{args.rows // world}{'' if args.rows % world == 0 else f'-{args.rows // world + 1}'} rows: "
              f"after {args.epochs} full-batch epochs the loss is {total.item() / world:.4f}, "
              f"train accuracy {accuracy:.1%}; saved the model to {args.out}")
    # every process waits for process 0's save: a process that tears its group down while a peer
    # still uses it can abort in gloo ("terminate called without an active exception")
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
