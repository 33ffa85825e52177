"""Benchmark: gradproof's ``check_gradients`` against ``torch.autograd.gradcheck``.

The subject is a 2-layer float64 tanh network, ``loss = ½ Σ (tanh(X W1) W2 − Y)²``
over 32 samples, with a hand-written backward (``grad_fn``), at about 15, 1e3,
1e4 and 1e5 parameters.  gradcheck checks the same backward wrapped in a
``torch.autograd.Function``, with its default tolerances (eps=1e-6, atol=1e-5,
rtol=1e-3).  Printed: time and evaluations to check a correct backward and to
find one entry wrong by a relative 1e-3 (and whether it is localised to that
exact entry), false alarms over many seeds, and detection rates at relative
errors 1e-1 … 1e-7.

Run from the repository root (a benchmark, not a test)::

    python bench/gradcheck_vs_gradproof.py          # about a minute
    python bench/gradcheck_vs_gradproof.py --full   # + gradcheck at 1e5 (≈ 40 s) and at 1e4 in every table
    python bench/gradcheck_vs_gradproof.py --full --sizes 1e5   # one size only

Without ``--full``, gradcheck's slow mode is not run at 1e5 parameters: the
table shows a lower bound instead, ``2 P`` evaluations of the loss at their
measured cost (gradcheck's own overhead comes on top); at 1e4 it is left out
of the false-alarm count and of detection below a relative 1e-4.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.gradients.check import check_gradients

SIZES = {"15": (3, 3, 2), "1e3": (16, 48, 5), "1e4": (64, 128, 14), "1e5": (256, 320, 56)}
RELATIVE_ERRORS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-6, 1e-7)
Grads = tuple[Tensor, Tensor]


@dataclass
class Network:
    """The network's data and weights, its loss, and the hand-written backward."""

    X: Tensor
    Y: Tensor
    W1: Tensor
    W2: Tensor

    @classmethod
    def draw(cls, sizes: tuple[int, int, int], seed: int) -> Network:
        d_in, hidden, d_out = sizes
        gen = torch.Generator().manual_seed(seed)
        X = torch.randn(32, d_in, generator=gen, dtype=torch.float64)
        Y = torch.randn(32, d_out, generator=gen, dtype=torch.float64)
        W1 = torch.randn(d_in, hidden, generator=gen, dtype=torch.float64) / math.sqrt(d_in)
        W2 = torch.randn(hidden, d_out, generator=gen, dtype=torch.float64) / math.sqrt(hidden)
        return cls(X, Y, W1, W2)

    @property
    def parameters(self) -> int:
        return self.W1.numel() + self.W2.numel()

    def loss(self, W1: Tensor, W2: Tensor) -> Tensor:
        return 0.5 * ((torch.tanh(self.X @ W1) @ W2 - self.Y) ** 2).sum()

    def backward(self, W1: Tensor, W2: Tensor) -> Grads:
        H = torch.tanh(self.X @ W1)
        dO = H @ W2 - self.Y
        dZ = (dO @ W2.T) * (1 - H * H)
        return self.X.T @ dZ, H.T @ dO

    def planted(
        self, seed: int, relative: float
    ) -> tuple[Callable[[Tensor, Tensor], Grads], tuple[int, tuple[int, ...]]]:
        """The backward with one entry, drawn by ``seed``, off by ``relative``; and that entry."""
        gen = torch.Generator().manual_seed(10_000 + seed)
        flat = int(torch.randint(self.parameters, (1,), generator=gen))
        k, i = (0, flat) if flat < self.W1.numel() else (1, flat - self.W1.numel())
        shape = (self.W1, self.W2)[k].shape
        index = (i // shape[1], i % shape[1])

        def wrong(W1: Tensor, W2: Tensor) -> Grads:
            grads = [g.clone() for g in self.backward(W1, W2)]
            grads[k][index] *= 1 + relative
            return grads[0], grads[1]

        return wrong, (k, index)


def as_function(
    loss: Callable[[Tensor, Tensor], Tensor], grad_fn: Callable[[Tensor, Tensor], Grads]
) -> Callable[..., Tensor]:
    """``loss`` as a ``torch.autograd.Function`` whose backward is ``grad_fn`` (for gradcheck)."""

    class Hand(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, W1: Tensor, W2: Tensor) -> Tensor:
            ctx.save_for_backward(W1, W2)
            return loss(W1, W2)

        @staticmethod
        def backward(ctx: Any, grad: Tensor) -> Grads:
            g1, g2 = grad_fn(*ctx.saved_tensors)
            return grad * g1, grad * g2

    return Hand.apply


def gradcheck(net: Network, grad_fn: Callable[[Tensor, Tensor], Grads], fast: bool = False) -> tuple[bool, float]:
    """gradcheck's verdict (True: passed) and its time in seconds."""
    leaves = [net.W1.clone().requires_grad_(), net.W2.clone().requires_grad_()]
    start = time.perf_counter()
    ok = torch.autograd.gradcheck(as_function(net.loss, grad_fn), leaves, raise_exception=False, fast_mode=fast)
    return bool(ok), time.perf_counter() - start


def gradproof(
    net: Network, grad_fn: Callable[[Tensor, Tensor], Grads], seed: int = 0, repeats: int = 1
) -> tuple[Any, float]:
    """gradproof's result and its best time over ``repeats`` runs."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        result = check_gradients(net.loss, (net.W1, net.W2), grad_fn, seed=seed)
        best = min(best, time.perf_counter() - start)
    return result, best


def loss_time(net: Network, repeats: int = 200) -> float:
    """The cost of one evaluation of the loss, in seconds."""
    with torch.no_grad():
        start = time.perf_counter()
        for _ in range(repeats):
            net.loss(net.W1, net.W2)
    return (time.perf_counter() - start) / repeats


def speed_table(sizes: dict[str, tuple[int, int, int]], full: bool) -> None:
    print("## One entry wrong by a relative 1e-3 (seed 0), and the correct backward\n")
    print(
        "| P | gradproof correct | gradproof wrong | localised | gradcheck slow | gradcheck found | gradcheck fast (found) | speed-up |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, layers in sizes.items():
        net = Network.draw(layers, seed=0)
        wrong, entry = net.planted(0, 1e-3)
        good, t_good = gradproof(net, net.backward, repeats=3)
        bad, t_bad = gradproof(net, wrong, repeats=3)
        localised = [(m.input, m.index) for m in bad.mismatches] == [entry]
        fast_ok, t_fast = gradcheck(net, wrong, fast=True)
        if name != "1e5" or full:
            slow_ok, t_slow = gradcheck(net, wrong)
            slow, found, ratio = f"{t_slow:.3f} s", "yes" if not slow_ok else "no", f"{t_slow / t_bad:,.3g}×"
        else:
            bound = 2 * net.parameters * loss_time(net)
            slow, found, ratio = f"≥ {bound:.1f} s (not run)", "—", f"≥ {bound / t_bad:,.3g}×"
        print(
            f"| {net.parameters:,} | {t_good * 1e3:.1f} ms ({good.function_evaluations} evals, ok={good.ok}) "
            f"| {t_bad * 1e3:.1f} ms ({bad.function_evaluations} evals) | {'yes' if localised else 'no'} "
            f"| {slow} | {found} | {t_fast * 1e3:.1f} ms ({'yes' if not fast_ok else 'no'}) | {ratio} |",
            flush=True,
        )
    print("\nspeed-up: gradcheck slow mode's time over gradproof's time to find and localise the wrong entry.")
    if "1e5" in sizes and not full:
        print("At 1e5 gradcheck was not run (--full runs it): the bound counts only its 2P loss evaluations.")


def false_alarms(sizes: dict[str, tuple[int, int, int]], seeds: int, full: bool) -> None:
    print(f"\n## False alarms on the correct backward over {seeds} seeds (network and directions drawn per seed)\n")
    print("| P | gradproof | gradcheck slow |")
    print("|---|---|---|")
    for name, layers in sizes.items():
        nets = [Network.draw(layers, seed) for seed in range(seeds)]
        ours = sum(not gradproof(net, net.backward, seed=seed)[0].ok for seed, net in enumerate(nets))
        theirs = (
            f"{sum(not gradcheck(net, net.backward)[0] for net in nets)}/{seeds}"
            if name in ("15", "1e3") or (full and name == "1e4")
            else "not run"
        )
        print(f"| {nets[0].parameters:,} | {ours}/{seeds} | {theirs} |", flush=True)


def detection(sizes: dict[str, tuple[int, int, int]], seeds: int, full: bool) -> None:
    print(f"\n## Detection of one wrong entry (drawn per seed) over {seeds} seeds: detected (exactly localised)\n")
    print("| P | checker | " + " | ".join(f"rel {r:.0e}" for r in RELATIVE_ERRORS) + " |")
    print("|---|---|" + "---|" * len(RELATIVE_ERRORS))
    for name, layers in sizes.items():
        net = Network.draw(layers, seed=0)
        cells_ours, cells_theirs = [], []
        for relative in RELATIVE_ERRORS:
            found = exact = caught = 0
            for seed in range(seeds):
                wrong, entry = net.planted(seed, relative)
                result = gradproof(net, wrong, seed=seed)[0]
                found += not result.ok
                exact += [(m.input, m.index) for m in result.mismatches] == [entry]
                if run_gradcheck(name, relative, full):
                    caught += not gradcheck(net, wrong)[0]
            cells_ours.append(f"{found}/{seeds} ({exact})")
            cells_theirs.append(f"{caught}/{seeds}" if run_gradcheck(name, relative, full) else "not run")
        print(f"| {net.parameters:,} | gradproof | " + " | ".join(cells_ours) + " |", flush=True)
        if run_gradcheck(name, RELATIVE_ERRORS[0], full):
            print(f"| {net.parameters:,} | gradcheck slow | " + " | ".join(cells_theirs) + " |", flush=True)


def run_gradcheck(name: str, relative: float, full: bool) -> bool:
    """Whether the detection table runs gradcheck (≈ 1 s a run at 1e4, ≈ 40 s at 1e5)."""
    return name in ("15", "1e3") or (name == "1e4" and (full or relative >= 1e-4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--full", action="store_true", help="also run gradcheck at 1e5 parameters, and at 1e4 in every table"
    )
    parser.add_argument("--seeds", type=int, default=20, help="seeds for the false-alarm count (default 20)")
    parser.add_argument("--detection-seeds", type=int, default=10, help="seeds per detection cell (default 10)")
    parser.add_argument(
        "--sizes", nargs="+", choices=list(SIZES), default=list(SIZES), help="sizes to run (default all)"
    )
    args = parser.parse_args()
    sizes = {name: SIZES[name] for name in args.sizes}
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float64\n")
    start = time.perf_counter()
    speed_table(sizes, args.full)
    false_alarms(sizes, args.seeds, args.full)
    detection(sizes, args.detection_seeds, args.full)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
