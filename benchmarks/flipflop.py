"""A 3-bit flip-flop task and a small trainer, for the fixed-point tests and benchmark.

Task (Sussillo & Barak 2013): ``bits`` input channels, each 0 except for rare ±1 pulses; output
channel i holds the sign of the last pulse on input i. Every channel pulses at t = 0 so that the
targets are always defined. A trained tanh RNN has 2^bits stable fixed points (one per memory).

Run as a script to (re)create ``tests/data/flipflop_rnn16.pt`` (the checkpoint the tests use)::

    PYTHONPATH=. python benchmarks/flipflop.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn


def flipflop_batch(batch: int, length: int, *, bits: int = 3, p_pulse: float = 0.05,
                   generator: torch.Generator | None = None):
    """Inputs and targets ``(T, B, bits)``: pulses of ±1 with probability ``p_pulse`` per step and channel."""
    pulse = torch.rand(length, batch, bits, generator=generator) < p_pulse
    pulse[0] = True
    sign = torch.randint(0, 2, (length, batch, bits), generator=generator).float() * 2 - 1
    x = pulse.float() * sign  # (T, B, bits)
    # target: sign of the most recent pulse (forward fill over time)
    last = torch.where(pulse, torch.arange(length).view(-1, 1, 1), 0).cummax(0).values  # (T, B, bits)
    y = x.gather(0, last)
    return x, y


def train_flipflop(hidden_size: int, *, bits: int = 3, steps: int = 1500, batch: int = 64, length: int = 64,
                   lr: float = 1e-2, seed: int = 0, target_loss: float = 1e-3, device: str = "cpu"):
    """Train ``torch.nn.RNN(bits, hidden_size)`` (tanh) plus a linear readout; returns (rnn, readout, loss)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    rnn = nn.RNN(bits, hidden_size).to(device)
    readout = nn.Linear(hidden_size, bits).to(device)
    opt = torch.optim.Adam([*rnn.parameters(), *readout.parameters()], lr=lr)
    loss = torch.tensor(float("inf"))
    for _ in range(steps):
        x, y = flipflop_batch(batch, length, bits=bits, generator=g)
        x, y = x.to(device), y.to(device)
        h, _ = rnn(x)
        loss = (readout(h) - y).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_([*rnn.parameters(), *readout.parameters()], 1.0)
        opt.step()
        if loss.item() < target_loss:
            break
    return rnn, readout, float(loss.detach())


def checkpoint_dict(rnn: nn.RNN, readout: nn.Linear) -> dict:
    """Weights under rnnviz.cells.RNN's names (torch.nn's, without the layer suffix), plus the readout."""
    return {"weight_ih": rnn.weight_ih_l0.detach().cpu(), "weight_hh": rnn.weight_hh_l0.detach().cpu(),
            "bias_ih": rnn.bias_ih_l0.detach().cpu(), "bias_hh": rnn.bias_hh_l0.detach().cpu(),
            "readout.weight": readout.weight.detach().cpu(), "readout.bias": readout.bias.detach().cpu()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--out", default=str(Path(__file__).parents[1] / "tests" / "data" / "flipflop_rnn16.pt"))
    args = parser.parse_args()
    rnn, readout, loss = train_flipflop(args.hidden, steps=3000)
    torch.save(checkpoint_dict(rnn, readout), args.out)
    print(f"trained {args.hidden}-unit flip-flop RNN, final loss {loss:.2e}; wrote {args.out}")


if __name__ == "__main__":
    main()
