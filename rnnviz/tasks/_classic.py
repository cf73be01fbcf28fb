"""Classic long-memory benchmarks: the copy task, the adding problem and the 3-bit flip-flop."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._checks import check_int
from ._base import (
    Baseline,
    PlateauScore,
    Task,
    check_generator,
    check_outputs,
    masked_accuracy,
    masked_cross_entropy,
    sampling_device,
    target_device,
)


class Copy(Task):
    """Copy task (Arjovsky, Shah, Bengio 2016): remember ``n_symbols`` symbols over a delay.

    Tokens: 0 = blank, 1..alphabet = data, alphabet + 1 = marker. Input: ``n_symbols`` data symbols,
    ``delay - 1`` blanks, the marker, ``n_symbols`` blanks (``T = delay + 2 n_symbols``). Target
    (``alphabet + 1`` classes, 0 = blank): blank everywhere except the last ``n_symbols`` steps, which
    reproduce the data symbols. Every step is scored (no mask). ``sample`` returns
    ``inputs (T, B, alphabet + 2)`` one-hot and ``targets (T, B)`` int64.
    """

    kind = "classification"

    def __init__(self, delay: int = 100, n_symbols: int = 10, alphabet: int = 8):
        self.delay = check_int("delay", delay, 1)
        self.n_symbols = check_int("n_symbols", n_symbols, 1)
        self.alphabet = check_int("alphabet", alphabet, 2)
        self.marker = self.alphabet + 1
        self.input_size = self.alphabet + 2
        self.output_size = self.alphabet + 1
        self.length = self.delay + 2 * self.n_symbols

    def sample(
        self, batch_size: int, generator: torch.Generator | None = None, device=None, dtype=torch.float32
    ):
        """``(inputs (T, B, alphabet + 2), targets (T, B))``."""
        check_int("batch_size", batch_size, 1)
        src, dst = sampling_device(generator, device), target_device(generator, device)
        S, T = self.n_symbols, self.length
        data = torch.randint(1, self.alphabet + 1, (S, batch_size), generator=generator, device=src)
        tokens = torch.zeros((T, batch_size), dtype=torch.int64, device=src)
        tokens[:S] = data
        tokens[S + self.delay - 1] = self.marker
        targets = torch.zeros_like(tokens)
        targets[T - S :] = data
        return F.one_hot(tokens, self.input_size).to(dtype).to(dst), targets.to(dst)

    @property
    def targeted_bits(self) -> float:
        """``n_symbols log2(alphabet)`` (30 bits for the standard 10 symbols from 8)."""
        return self.n_symbols * math.log2(self.alphabet)

    @property
    def baseline(self) -> Baseline:
        """Blank until the last ``n_symbols`` steps, then uniform guesses: loss ``S ln A / T`` nats/step."""
        S, A, T = self.n_symbols, self.alphabet, self.length
        return Baseline(loss=S * math.log(A) / T, accuracy=(T - S + S / A) / T)

    def loss(self, outputs, targets, mask=None):
        """Cross-entropy (nats) per step over all steps; per member."""
        check_outputs(self, outputs, targets, mask, whole=False)
        return masked_cross_entropy(outputs, targets, mask)

    def score(self, outputs, targets, mask=None) -> dict:
        """``loss``, ``accuracy`` (all steps) and ``recall_accuracy`` (the last ``n_symbols`` steps)."""
        check_outputs(self, outputs, targets, mask)
        recall = slice(self.length - self.n_symbols, self.length)
        return {
            "loss": masked_cross_entropy(outputs, targets, mask).detach(),
            "accuracy": masked_accuracy(outputs, targets, mask),
            "recall_accuracy": masked_accuracy(outputs[..., recall, :, :], targets[..., recall, :], None),
        }

    def config(self) -> dict:
        return {"task": "copy", "delay": self.delay, "n_symbols": self.n_symbols, "alphabet": self.alphabet}


class Adding(Task):
    """Adding problem: sum the two marked values of a length-``T`` sequence.

    ``inputs (T, B, 2)``: channel 0 values U(0, 1); channel 1 markers, exactly one 1 in
    ``[0, T/2)`` and one in ``[T/2, T)``. ``targets (B, 1)``: the sum of the two marked values,
    scored on the output of the last step (MSE). Predicting 1 always gives MSE 1/6.

    A plateau rule reads the validation MSE (``loss``, lower is better; :attr:`plateau_score`), not
    the ``accuracy``: the fraction of sums within ``tolerance`` (about 0.08 for the baseline) barely
    moves while the MSE falls from 1/6 towards ``tolerance²``, and it saturates at 1 once the errors
    are well inside the tolerance, while the MSE can still fall tenfold.
    """

    kind = "regression"
    input_size = 2
    output_size = 1
    plateau_score = PlateauScore("loss", lower_is_better=True)

    def __init__(self, length: int = 100, tolerance: float = 0.04):
        self.length = check_int("length", length, 2)
        if not tolerance > 0:
            raise ValueError(f"tolerance must be > 0, got {tolerance!r}")
        self.tolerance = float(tolerance)

    def sample(
        self, batch_size: int, generator: torch.Generator | None = None, device=None, dtype=torch.float32
    ):
        """``(inputs (T, B, 2), targets (B, 1))``."""
        check_int("batch_size", batch_size, 1)
        src, dst = sampling_device(generator, device), target_device(generator, device)
        T, half = self.length, self.length // 2
        values = torch.rand((T, batch_size), generator=generator, device=src, dtype=torch.float64)
        first = torch.randint(0, half, (batch_size,), generator=generator, device=src)
        second = torch.randint(half, T, (batch_size,), generator=generator, device=src)
        markers = torch.zeros((T, batch_size), dtype=torch.float64, device=src)
        cols = torch.arange(batch_size, device=src)
        markers[first, cols] = 1.0
        markers[second, cols] = 1.0
        targets = (values * markers).sum(0, keepdim=True).T  # (B, 1)
        inputs = torch.stack([values, markers], dim=-1)  # (T, B, 2)
        return inputs.to(dtype).to(dst), targets.to(dtype).to(dst)

    @property
    def targeted_bits(self) -> float:
        """Infinite: the target is a real number (the MSE baseline is the meaningful reference)."""
        return math.inf

    @property
    def baseline(self) -> Baseline:
        """Predict the mean 1: MSE = Var(U1 + U2) = 1/6; no accuracy."""
        return Baseline(loss=1.0 / 6.0, accuracy=None)

    def loss(self, outputs, targets, mask=None):
        """MSE of the last step's output ``outputs[..., -1, :, :] (..., B, 1)``; per member."""
        check_outputs(self, outputs, targets, mask, whole=False)
        return ((outputs[..., -1, :, :] - targets) ** 2).mean(dim=(-2, -1))

    def score(self, outputs, targets, mask=None) -> dict:
        """``loss`` (MSE) and ``accuracy`` (fraction with absolute error below ``tolerance``)."""
        check_outputs(self, outputs, targets, mask)
        err = (outputs[..., -1, :, :] - targets).abs()
        return {
            "loss": self.loss(outputs, targets).detach(),
            "accuracy": (err < self.tolerance).to(err.dtype).mean((-2, -1)),
        }

    def config(self) -> dict:
        return {"task": "adding", "length": self.length, "tolerance": self.tolerance}


class FlipFlop(Task):
    """``bits``-bit flip-flop (Sussillo & Barak 2013).

    ``inputs (T, B, bits)``: each channel is 0 except for ±1 pulses (probability ``p_pulse`` per
    step). ``targets (T, B, bits)``: on each channel the sign of the latest pulse so far (0 before the
    first). MSE on every step. A memoryless predictor (sees only the current input) outputs the
    pulse when there is one and 0 otherwise.
    """

    kind = "regression"

    def __init__(self, bits: int = 3, length: int = 100, p_pulse: float = 0.05):
        self.bits = check_int("bits", bits, 1)
        self.length = check_int("length", length, 1)
        if not 0 < p_pulse <= 1:
            raise ValueError(f"p_pulse must be in (0, 1], got {p_pulse!r}")
        self.p_pulse = float(p_pulse)
        self.input_size = self.output_size = self.bits

    def sample(
        self, batch_size: int, generator: torch.Generator | None = None, device=None, dtype=torch.float32
    ):
        """``(inputs (T, B, bits), targets (T, B, bits))``."""
        check_int("batch_size", batch_size, 1)
        src, dst = sampling_device(generator, device), target_device(generator, device)
        shape = (self.length, batch_size, self.bits)
        pulse = torch.rand(shape, generator=generator, device=src) < self.p_pulse
        sign = torch.randint(0, 2, shape, generator=generator, device=src) * 2 - 1
        inputs = (pulse * sign).to(torch.float64)  # (T, B, bits)
        # latest pulse: index of the last pulse at or before t, via a running max of pulse times
        times = torch.arange(self.length, device=src).view(-1, 1, 1).expand(shape)
        last = torch.where(pulse, times, torch.full_like(times, -1)).cummax(0).values  # (T, B, bits)
        held = inputs.gather(0, last.clamp_min(0))
        targets = torch.where(last >= 0, held, torch.zeros_like(held))
        return inputs.to(dtype).to(dst), targets.to(dtype).to(dst)

    @property
    def targeted_bits(self) -> float:
        """One bit per channel: the flip-flop's memory at any moment."""
        return float(self.bits)

    @property
    def baseline(self) -> Baseline:
        """Memoryless: MSE = mean_t (1-p)(1-(1-p)^t); accuracy guesses a sign when no pulse is seen."""
        p, q, T = self.p_pulse, 1.0 - self.p_pulse, self.length
        loss = sum(q * (1.0 - q**t) for t in range(T)) / T
        nonzero = sum(1.0 - q ** (t + 1) for t in range(T))
        right = sum(p + 0.5 * q * (1.0 - q**t) for t in range(T))
        return Baseline(loss=loss, accuracy=right / nonzero)

    def loss(self, outputs, targets, mask=None):
        """MSE over all steps and channels; per member."""
        check_outputs(self, outputs, targets, mask, whole=False)
        return ((outputs - targets) ** 2).mean(dim=(-3, -2, -1))

    def score(self, outputs, targets, mask=None) -> dict:
        """``loss`` (MSE) and ``accuracy``: sign of the output on the steps whose target is ±1."""
        check_outputs(self, outputs, targets, mask)
        held = targets != 0
        right = ((torch.sign(outputs) == targets) & held).to(outputs.dtype).sum((-3, -2, -1))
        return {
            "loss": self.loss(outputs, targets).detach(),
            "accuracy": right / held.sum((-3, -2, -1)).clamp_min(1),
        }

    def config(self) -> dict:
        return {"task": "flipflop", "bits": self.bits, "length": self.length, "p_pulse": self.p_pulse}


class PrimedFlipFlop(FlipFlop):
    """:class:`~rnnviz.tasks.FlipFlop` with a ±1 pulse on every channel at the first step.

    Every output then always holds a sign (never the "not yet set" 0 of the plain task), so a network
    that solves it needs exactly 2^bits memories: the classic picture of 2^bits stable fixed points.
    ``sample`` draws a plain batch of length T − 1 and prepends the pulses; where that batch's target
    is 0 (no pulse yet on that channel) the target is the first pulse.
    """

    def sample(self, batch_size: int, generator: torch.Generator | None = None, device=None, dtype=torch.float32):
        """``(inputs (T, B, bits), targets (T, B, bits))`` as the plain task, first step pulsed."""
        check_int("batch_size", batch_size, 1)
        check_generator(generator)
        first = torch.randint(0, 2, (1, batch_size, self.bits), generator=generator).to(dtype) * 2 - 1  # (1, B, bits)
        inputs, targets = FlipFlop(self.bits, self.length - 1, self.p_pulse).sample(batch_size, generator, None, dtype)
        targets = torch.where(targets == 0, first, targets)
        return torch.cat([first, inputs]).to(device), torch.cat([first, targets]).to(device)
