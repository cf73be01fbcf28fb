"""The memorization problem: rnnviz's own protocol for the PRU paper's study.

The PRU paper (Long, Zhang, Mao 2018) varies the amount of targeted information, the amount of
interfering information and the state dimension; its exact protocol is not public, so rnnviz
defines this one:

=========  =====  =============================================================
phase      steps  input (one-hot over A symbols + blank + recall marker)
=========  =====  =============================================================
store      K      K target symbols, i.i.d. uniform over the A symbols
interfere  L      blanks ("blank": a pure delay) or i.i.d. uniform symbols ("random")
marker     1      the recall marker
recall     K      blanks; the network must emit the K targets in order
=========  =====  =============================================================

Sequence length ``T = 2K + L + 1``. Targeted information ``I_T = K log2 A`` bits, interfering
information ``I_I = L log2 A`` bits ("random") or 0 ("blank"). Only the K recall steps are scored.
A memoryless predictor reaches accuracy ``1/A`` and cross-entropy ``ln A`` nats per recalled symbol.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .._checks import check_choice, check_int
from ._base import (
    Baseline,
    Task,
    check_outputs,
    masked_accuracy,
    masked_cross_entropy,
    sampling_device,
    target_device,
)

INTERFERENCE = ("blank", "random")


class Memorization(Task):
    """Store K symbols, survive L interfering steps, recall the K symbols in order.

    Args:
        n_targets: K >= 1, number of symbols to memorise.
        alphabet: A >= 2, number of data symbols (tokens ``A`` = blank and ``A + 1`` = marker are added).
        n_interfering: L >= 0, length of the interfere phase.
        interference: ``"blank"`` (delay only) or ``"random"`` (i.i.d. symbols the network must ignore).

    ``sample`` returns ``inputs (T, B, A + 2)`` one-hot floats, ``targets (T, B)`` int64 (the targets on
    the recall steps, 0 elsewhere) and ``mask (T, B)`` bool (True on the K recall steps).
    """

    kind = "classification"

    def __init__(
        self, n_targets: int, alphabet: int = 4, n_interfering: int = 0, interference: str = "blank"
    ):
        self.n_targets = check_int("n_targets", n_targets, 1)
        self.alphabet = check_int("alphabet", alphabet, 2)
        self.n_interfering = check_int("n_interfering", n_interfering, 0)
        self.interference = check_choice("interference", interference, INTERFERENCE)
        self.blank = self.alphabet
        self.marker = self.alphabet + 1
        self.input_size = self.alphabet + 2
        self.output_size = self.alphabet
        self.length = 2 * self.n_targets + self.n_interfering + 1

    @property
    def recall_slice(self) -> slice:
        """Time steps of the recall phase (the scored steps)."""
        return slice(self.length - self.n_targets, self.length)

    @property
    def _drawn_steps(self) -> int:
        """Leading steps whose tokens are random: the K targets, then the L noise symbols if random."""
        return self.n_targets + (self.n_interfering if self.interference == "random" else 0)

    def _fixed_tokens(self) -> torch.Tensor:
        """Tokens ``(T,)`` of the steps that are not random (the drawn steps hold ``blank``)."""
        tokens = torch.full((self.length,), self.blank, dtype=torch.int64)
        tokens[self.n_targets + self.n_interfering] = self.marker
        return tokens

    def sample_symbols(self, batch_size: int, generator: torch.Generator | None = None, device=None):
        """Token sequence ``(T, B)`` int64 and targets ``(K, B)``; ``sample`` gives the one-hot batch."""
        check_int("batch_size", batch_size, 1)
        src, dst = sampling_device(generator, device), target_device(generator, device)
        K, L = self.n_targets, self.n_interfering
        tokens = self._fixed_tokens().to(src)[:, None].repeat(1, batch_size)  # (T, B)
        targets = torch.randint(0, self.alphabet, (K, batch_size), generator=generator, device=src)
        tokens[:K] = targets  # store
        if self.interference == "random":
            noise = torch.randint(0, self.alphabet, (L, batch_size), generator=generator, device=src)
            tokens[K : K + L] = noise  # interfere
        return tokens.to(dst), targets.to(dst)

    def sample(
        self, batch_size: int, generator: torch.Generator | None = None, device=None, dtype=torch.float32
    ):
        """One batch ``(inputs (T, B, A+2), targets (T, B), mask (T, B))`` on ``device``.

        Random numbers come from ``generator`` (on its own device; the batch is then moved), so the
        same generator state gives the same batch on every device.
        """
        tokens, recall = self.sample_symbols(batch_size, generator, device)
        inputs = F.one_hot(tokens, self.input_size).to(dtype)  # (T, B, A+2)
        targets = torch.zeros_like(tokens)
        targets[self.recall_slice] = recall
        mask = torch.zeros(tokens.shape, dtype=torch.bool, device=tokens.device)
        mask[self.recall_slice] = True
        return inputs, targets, mask

    @classmethod
    def ensemble_sampler(cls, tasks, batch_size, device=None, dtype=torch.float32):
        """:class:`MemorizationBatches` when every task is a :class:`Memorization` (same alphabet)."""
        if all(isinstance(t, Memorization) for t in tasks) and len({t.alphabet for t in tasks}) == 1:
            return MemorizationBatches(tasks, batch_size, device, dtype)
        return super().ensemble_sampler(tasks, batch_size, device, dtype)

    @property
    def targeted_bits(self) -> float:
        """``I_T = K log2 A``."""
        return self.n_targets * math.log2(self.alphabet)

    @property
    def interfering_bits(self) -> float:
        """``I_I = L log2 A`` for random interference, 0 for blanks."""
        return self.n_interfering * math.log2(self.alphabet) if self.interference == "random" else 0.0

    @property
    def baseline(self) -> Baseline:
        """Memoryless: uniform prediction, loss ``ln A`` nats per recalled symbol, accuracy ``1/A``."""
        return Baseline(loss=math.log(self.alphabet), accuracy=1.0 / self.alphabet)

    def loss(self, outputs, targets, mask=None):
        """Cross-entropy (nats) averaged over the recall steps; per member."""
        check_outputs(self, outputs, targets, mask, whole=False)
        return masked_cross_entropy(outputs, targets, mask)

    def score(self, outputs, targets, mask=None, correction: str | None = "miller-madow") -> dict:
        """Metrics of logits ``outputs (..., T, B, A)`` against a batch from ``sample``.

        Returns a dict of tensors with leading shape ``outputs.shape[:-3]``: ``loss`` (nats/symbol),
        ``accuracy``, ``accuracy_per_position (..., K)``, ``recalled_bits_per_position (..., K)``
        (empirical mutual information between target and prediction at each recall step, see
        :func:`rnnviz.info.mutual_information`), ``recalled_bits`` (their sum, at most ``I_T``) and
        ``recalled_bits_plugin`` (the same sum without bias correction).

        ``correction``: the per-position estimator's bias correction, ``"miller-madow"`` (default)
        or None (plug-in). The plug-in estimate credits a model that guesses at chance with about
        ``K (A - 1)^2 / (2 B ln 2)`` bits (5 bits for K = 128, A = 16 on B = 4000 sequences);
        Miller-Madow removes that first-order bias.
        """
        from ._information import confusion_counts, mutual_information

        check_outputs(self, outputs, targets, mask)
        if mask is None:
            mask = torch.zeros(targets.shape[-2:], dtype=torch.bool, device=targets.device)
            mask[self.recall_slice] = True
        predicted = outputs[..., self.recall_slice, :, :].argmax(-1)  # (..., K, B)
        wanted = targets[..., self.recall_slice, :].expand(predicted.shape)  # (..., K, B)
        per_position = (predicted == wanted).to(outputs.dtype).mean(-1)  # (..., K)
        counts = confusion_counts(wanted, predicted, self.alphabet)  # (..., K, A, A)
        plugin = mutual_information(counts)  # (..., K)
        bits = plugin if correction is None else mutual_information(counts, correction)  # checks `correction`
        return {
            "loss": masked_cross_entropy(outputs, targets, mask).detach(),
            "accuracy": masked_accuracy(outputs, targets, mask),
            "accuracy_per_position": per_position,
            "recalled_bits_per_position": bits,
            "recalled_bits": bits.sum(-1),
            "recalled_bits_plugin": plugin.sum(-1),
        }

    def config(self) -> dict:
        return {
            "task": "memorization",
            "n_targets": self.n_targets,
            "alphabet": self.alphabet,
            "n_interfering": self.n_interfering,
            "interference": self.interference,
        }


class MemorizationBatches:
    """Batches of an ensemble of :class:`Memorization` tasks, equal to :class:`StackedBatches`'.

    Member e's tokens are drawn with its own CPU generator, by one ``random_`` call on its drawn steps
    (the same numbers, in the same order, as ``sample``'s ``randint`` calls). Everything else is
    built for all members at once, on ``device`` after one host-to-device copy of the tokens: the
    one-hot inputs (one embedding lookup; padding steps get a zero input), the targets and the mask.
    ``sampler(generators)`` returns ``inputs (E, T, B, A + 2)`` in ``dtype``, ``targets (E, T, B)``
    int64 and ``mask (E, T, B)`` bool (the same tensor on every call: it does not depend on the draw).
    """

    def __init__(self, tasks: Sequence[Memorization], batch_size: int, device=None, dtype=torch.float32):
        self.tasks, self.batch_size = list(tasks), check_int("batch_size", batch_size, 1)
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.alphabet = self.tasks[0].alphabet
        E, T, B = len(self.tasks), max(t.length for t in self.tasks), batch_size
        classes = self.tasks[0].input_size  # padding steps hold token `classes`: a zero input
        self.token_dtype = torch.uint8 if classes < 256 else torch.int64
        fixed = torch.full((E, T), classes, dtype=torch.int64)
        for e, task in enumerate(self.tasks):
            fixed[e, : task.length] = task._fixed_tokens()
        self.fixed = fixed.to(self.token_dtype)[:, :, None].expand(E, T, B)  # (E, T, B) on the CPU
        steps = torch.arange(T)
        start = torch.tensor([t.recall_slice.start for t in self.tasks])[:, None]  # (E, 1)
        end = torch.tensor([t.length for t in self.tasks])[:, None]  # (E, 1)
        recall = (steps >= start) & (steps < end)  # (E, T)
        self.mask = recall[:, :, None].expand(E, T, B).contiguous().to(self.device)  # (E, T, B)
        # recall step t reproduces the target drawn at step t - start
        self.source = (steps - start).clamp_min(0)[:, :, None].to(self.device).expand(E, T, B)  # (E, T, B)
        # one-hot inputs as an embedding: row k of the table is token k's one-hot vector, the padding row 0
        self.one_hot = torch.eye(classes + 1, classes, dtype=dtype, device=self.device)  # (A + 3, A + 2)

    def __call__(self, generators: Sequence[torch.Generator]) -> tuple:
        tokens = torch.empty(self.fixed.shape, dtype=self.token_dtype, pin_memory=self.device.type == "cuda")
        tokens.copy_(self.fixed)  # (E, T, B)
        for member, task, g in zip(tokens, self.tasks, generators, strict=True):
            member[: task._drawn_steps].random_(0, self.alphabet, generator=g)
        tokens = tokens.to(self.device, non_blocking=True).long()
        inputs = F.embedding(tokens, self.one_hot)  # (E, T, B, A + 2)
        targets = torch.where(self.mask, tokens.gather(1, self.source), 0)  # (E, T, B)
        return inputs, targets, self.mask
