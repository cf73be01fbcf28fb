"""The memorization problem: rnnviz's own protocols for the PRU paper's study.

The PRU paper (Long, Zhang, Mao 2018) varies the amount of targeted information, the amount of
interfering information and the state dimension. The protocols here are rnnviz's own
reconstruction from the paper's abstract; the paper itself was not consulted.

Protocol 1 (the default; the shipped capacity data use it):

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
In protocol 1 the "random" condition has no cue for the end of the store phase (its K targets and
L noise symbols are alike), so the network must count to K; and ``I_I`` only varies with ``L``,
which changes the length ``T`` and the delay together with it.

Protocol 2 (``protocol=2``) measures capacity under a dose of interference at a fixed length:

==========  =====  ==============================================================
phase       steps  input (one-hot over A symbols + blank + marker + store-end)
==========  =====  ==============================================================
store       K      K target symbols, i.i.d. uniform over the A symbols
store-end   1      the store-end token (token ``A + 2``), in every condition
interfere   L      the first ``n_random`` steps: i.i.d. uniform symbols; the others blank
marker      1      the recall marker
recall      K      blanks; the network must emit the K targets in order
==========  =====  ==============================================================

Sequence length ``T = 2K + L + 2`` whatever ``n_random``; ``I_T = K log2 A``,
``I_I = n_random log2 A``. The random steps sit at fixed positions, right after the store-end
token: the delay between the last target and the marker is ``L + 1`` in every condition, the
sequence structure (and so the mask, the one-hot layout and the ensemble sampler) does not depend
on the draw, and the blank tail of the delay is the same pure delay as in the "blank" condition.
The condition label ``interference`` is derived from the dose: "blank" (``n_random = 0``),
"random" (``n_random = L``) or "mixed" (in between).

Protocol 3 (``protocol=3``) is protocol 2 with the position to recall named at every recall step
(cued recall): recall step j (0-based) receives the query token ``A + 3 + j`` instead of a blank, so
the network needs no clock to know which target to emit; everything else (the steps, the draws, the
targets, the mask) is protocol 2's. The input grows to ``A + 3 + K`` channels (one per position), so
the models of different K differ in their input weights. It separates holding the K symbols from
timing the answers, which protocol 2 asks for together (its j-th answer comes j steps after the
marker, with only blanks as inputs).

Targeted bits at a fixed length need no other task: varying ``alphabet`` at a fixed K changes
``I_T = K log2 A`` and leaves ``T`` unchanged (in every protocol).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .._checks import check_choice, check_int, check_optional_int
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
#: Condition labels of protocol 2 (derived from ``n_random``; "mixed" when 0 < n_random < L).
INTERFERENCE_2 = ("blank", "mixed", "random")
PROTOCOLS = (1, 2, 3)
#: The protocols whose interference is a dose ``n_random`` at a fixed length (2, and 3 = 2 with cues).
DOSE_PROTOCOLS = (2, 3)


def check_protocol(protocol) -> int:
    """``protocol`` when it is one of :data:`PROTOCOLS` (an integer: not a bool, not 2.0); a TypeError
    or ValueError naming it and the range otherwise."""
    return check_int("protocol", protocol, PROTOCOLS[0], PROTOCOLS[-1])


def hold_steps(n_targets: int, n_interfering: int, protocol: int = 1) -> int:
    """How many steps every target of a memorization sequence waits between its store step and its
    recall step: ``K + L + 1`` in protocol 1 (``T − K``, the same for each of the K targets, since the
    recall replays them in order), ``K + L + 2`` in protocols 2 and 3 (the store-end token adds a step).

    So at a fixed delay L a larger K also means a longer hold: in protocol 2 a target waits 12 steps at
    K = 2, L = 8 and 42 at K = 32, L = 8, the same 42 as at K = 2, L = 38.
    """
    K = check_int("n_targets", n_targets, 1)
    L = check_int("n_interfering", n_interfering, 0)
    return K + L + (2 if check_protocol(protocol) in DOSE_PROTOCOLS else 1)


def delay_for_hold(n_targets: int, hold: int, protocol: int = 2) -> int:
    """The delay L that makes every one of K targets wait ``hold`` steps (:func:`hold_steps` solved for
    L): ``hold − K − 2`` in protocols 2 and 3, ``hold − K − 1`` in protocol 1. A ValueError naming the
    hold and K when the hold is shorter than K targets allow even with no delay."""
    K = check_int("n_targets", n_targets, 1)
    check_int("hold", hold, 1)
    L = hold - hold_steps(K, 0, protocol)
    if L < 0:
        raise ValueError(f"hold={hold} is too short for n_targets={K}: with no delay at all each of its targets "
                         f"waits {hold_steps(K, 0, protocol)} steps (protocol {protocol})")
    return L


class Memorization(Task):
    """Store K symbols, survive L interfering steps, recall the K symbols in order.

    Args:
        n_targets: K >= 1, number of symbols to memorise.
        alphabet: A >= 2, number of data symbols (tokens ``A`` = blank and ``A + 1`` = marker are
            added, and ``A + 2`` = store-end in protocols 2 and 3, and ``A + 3 + j`` = "recall
            position j" in protocol 3).
        n_interfering: L >= 0, length of the interfere phase.
        interference: protocol 1: ``"blank"`` (delay only, the default) or ``"random"`` (i.i.d.
            symbols the network must ignore). Protocol 2: optional, derived from ``n_random``
            (``"blank"``, ``"mixed"``, ``"random"``); when given it must agree with ``n_random``
            (``"blank"``: 0, ``"random"``: L, ``"mixed"``: strictly between), and alone it sets
            ``n_random`` (0 for ``"blank"``, L for ``"random"``).
        protocol: 1 (default, bit-for-bit the original task), 2 (store-end cue and a dose of
            interference at a fixed length) or 3 (protocol 2 with the position to recall named at
            every recall step); see the module docstring.
        n_random: protocols 2 and 3 only: how many of the L delay steps (the first ones) carry random
            symbols, ``0 <= n_random <= L``.

    ``sample`` returns ``inputs (T, B, input_size)`` one-hot floats (``input_size = A + 2``, or
    ``A + 3`` in protocol 2, ``A + 3 + K`` in protocol 3), ``targets (T, B)`` int64 (the targets on the recall steps, 0
    elsewhere) and ``mask (T, B)`` bool (True on the K recall steps). ``n_random`` is set in both
    protocols (protocol 1: L for "random", 0 for "blank"), and ``interfering_bits = n_random log2 A``.
    """

    kind = "classification"

    def __init__(
        self,
        n_targets: int,
        alphabet: int = 4,
        n_interfering: int = 0,
        interference: str | None = None,
        protocol: int = 1,
        n_random: int | None = None,
    ):
        self.n_targets = check_int("n_targets", n_targets, 1)
        self.alphabet = check_int("alphabet", alphabet, 2)
        self.n_interfering = L = check_int("n_interfering", n_interfering, 0)
        self.protocol = check_protocol(protocol)
        n_random = check_optional_int("n_random", n_random, 0)
        if self.protocol == 1:
            if n_random is not None:
                raise ValueError(f"n_random needs protocol 2 or 3, got n_random={n_random!r} with protocol=1")
            self.interference = check_choice("interference", "blank" if interference is None else interference,
                                             INTERFERENCE)
            self.n_random = L if self.interference == "random" else 0
        else:
            if interference is not None:
                check_choice("interference", interference, INTERFERENCE_2)
            if n_random is None:
                if interference is None or interference == "mixed":
                    raise ValueError(
                        f"protocol {self.protocol} needs n_random (0 <= n_random <= n_interfering = {L}), or "
                        f"interference 'blank' or 'random'; got interference={interference!r}"
                    )
                n_random = 0 if interference == "blank" else L
            self.n_random = check_int("n_random", n_random, 0, L)
            derived = "blank" if self.n_random == 0 else "random" if self.n_random == L else "mixed"
            agrees = {"blank": self.n_random == 0, "random": self.n_random == L, "mixed": 0 < self.n_random < L}
            if interference is not None and not agrees[interference]:
                raise ValueError(
                    f"interference={interference!r} disagrees with n_random={self.n_random} of "
                    f"n_interfering={L} (that dose is {derived!r})"
                )
            self.interference = derived if interference is None else interference
        self.blank = self.alphabet
        self.marker = self.alphabet + 1
        dose = self.protocol in DOSE_PROTOCOLS
        self.store_end = self.alphabet + 2 if dose else None
        #: protocol 3: the query token of recall step j (0-based) is ``first_query + j``; None otherwise
        self.first_query = self.alphabet + 3 if self.protocol == 3 else None
        # one-hot over the A symbols, blank and marker, then store-end (2, 3), then the K queries (3)
        self.input_size = self.alphabet + 2 + (1 if dose else 0) + (self.n_targets if self.first_query is not None else 0)
        self.output_size = self.alphabet
        self.length = self.n_targets + hold_steps(self.n_targets, L, self.protocol)

    @property
    def hold_steps(self) -> int:
        """Steps every target waits between being stored and being recalled (:func:`hold_steps`)."""
        return self.length - self.n_targets

    @property
    def recall_slice(self) -> slice:
        """Time steps of the recall phase (the scored steps)."""
        return slice(self.length - self.n_targets, self.length)

    @property
    def _noise_steps(self) -> slice | None:
        """Steps of the random interfering symbols (None when the condition draws none).

        Protocol 1 "random": the L delay steps (also for L = 0, as it always did); protocols 2 and 3:
        the first ``n_random`` steps after the store-end token.
        """
        K = self.n_targets
        if self.protocol == 1:
            return slice(K, K + self.n_interfering) if self.interference == "random" else None
        return slice(K + 1, K + 1 + self.n_random) if self.n_random else None

    @property
    def _drawn_spans(self) -> list[slice]:
        """Steps whose tokens are random, in drawing order: the K targets, then the noise steps."""
        noise = self._noise_steps
        if noise is None:
            return [slice(0, self.n_targets)]
        if noise.start == self.n_targets:  # protocol 1: targets and noise are one contiguous block
            return [slice(0, noise.stop)]
        return [slice(0, self.n_targets), noise]

    def _fixed_tokens(self) -> torch.Tensor:
        """Tokens ``(T,)`` of the steps that are not random (the drawn steps hold ``blank``)."""
        tokens = torch.full((self.length,), self.blank, dtype=torch.int64)
        tokens[self.length - self.n_targets - 1] = self.marker
        if self.store_end is not None:
            tokens[self.n_targets] = self.store_end
        if self.first_query is not None:  # protocol 3: recall step j is asked for position j
            tokens[self.recall_slice] = self.first_query + torch.arange(self.n_targets)
        return tokens

    def sample_symbols(self, batch_size: int, generator: torch.Generator | None = None, device=None):
        """Token sequence ``(T, B)`` int64 and targets ``(K, B)``; ``sample`` gives the one-hot batch."""
        check_int("batch_size", batch_size, 1)
        src, dst = sampling_device(generator, device), target_device(generator, device)
        K, noise = self.n_targets, self._noise_steps
        tokens = self._fixed_tokens().to(src)[:, None].repeat(1, batch_size)  # (T, B)
        targets = torch.randint(0, self.alphabet, (K, batch_size), generator=generator, device=src)
        tokens[:K] = targets  # store
        if noise is not None:
            n = noise.stop - noise.start
            tokens[noise] = torch.randint(0, self.alphabet, (n, batch_size), generator=generator, device=src)
        return tokens.to(dst), targets.to(dst)

    def sample(
        self, batch_size: int, generator: torch.Generator | None = None, device=None, dtype=torch.float32
    ):
        """One batch ``(inputs (T, B, input_size), targets (T, B), mask (T, B))`` on ``device``.

        Random numbers come from ``generator`` (on its own device; the batch is then moved), so the
        same generator state gives the same batch on every device.
        """
        tokens, recall = self.sample_symbols(batch_size, generator, device)
        inputs = F.one_hot(tokens, self.input_size).to(dtype)  # (T, B, input_size)
        targets = torch.zeros_like(tokens)
        targets[self.recall_slice] = recall
        mask = torch.zeros(tokens.shape, dtype=torch.bool, device=tokens.device)
        mask[self.recall_slice] = True
        return inputs, targets, mask

    @classmethod
    def ensemble_sampler(cls, tasks, batch_size, device=None, dtype=torch.float32):
        """:class:`MemorizationBatches` when every task is a :class:`Memorization` (same alphabet,
        protocol and input size)."""
        if all(isinstance(t, Memorization) for t in tasks) and \
                len({(t.alphabet, t.protocol, t.input_size) for t in tasks}) == 1:
            return MemorizationBatches(tasks, batch_size, device, dtype)
        return super().ensemble_sampler(tasks, batch_size, device, dtype)

    curricula = ("mixed", "combined", "prefix", "suffix", "delay", "combined-delay")

    @classmethod
    def curriculum_sampler(cls, tasks, batch_size, curriculum, device=None, dtype=torch.float32):
        """Training batches of a curriculum. ``"mixed"`` and ``"combined"``
        (:class:`MixedMemorizationBatches`): each sequence holds K' targets, placed so that its recall
        ends the sequence; ``"mixed"``: K' uniform in 1..K; ``"combined"``: K' = K with probability
        1/2, else uniform in 1..K. ``"prefix"`` and ``"suffix"`` (:class:`PartialRecallBatches`):
        each sequence is the task itself, scored on its first (last) K' recall steps, K' uniform in 1..K.
        ``"delay"`` (:class:`MixedMemorizationBatches` with ``vary="delay"``): every sequence holds all
        K targets; half wait the task's delay L, half a delay L' uniform in n_random..L (shorter holds).
        ``"combined-delay"`` (``vary="both"``): half the task itself, half with K' uniform in 1..K and
        L' uniform in n_random..L, drawn independently (fewer targets and shorter waits)."""
        check_choice("curriculum", curriculum, cls.curricula)
        if not all(isinstance(t, Memorization) for t in tasks):
            raise ValueError(f"the {curriculum} curriculum needs Memorization tasks for every member")
        if curriculum in PartialRecallBatches.ENDS:
            return PartialRecallBatches(tasks, batch_size, device, dtype, scored=curriculum)
        full = 0.0 if curriculum == "mixed" else 0.5
        vary = {"delay": "delay", "combined-delay": "both"}.get(curriculum, "targets")
        return MixedMemorizationBatches(tasks, batch_size, device, dtype, full_fraction=full, vary=vary)

    @property
    def targeted_bits(self) -> float:
        """``I_T = K log2 A``."""
        return self.n_targets * math.log2(self.alphabet)

    @property
    def interfering_bits(self) -> float:
        """``I_I = n_random log2 A``: protocol 1 ``L log2 A`` for random interference, 0 for blanks."""
        return self.n_random * math.log2(self.alphabet) if self.n_random else 0.0

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
        :func:`rnnviz.tasks.mutual_information`, each clipped to ``[0, log2 A]``), and three totals
        of recalled information, in bits, each in ``[0, I_T]``:

        - ``recalled_bits``: the sum of the clipped per-position estimates (the shipped capacity
          data use it). At chance each clipped term is about half-normal, so the sum keeps a
          positive bias that grows with K.
        - ``recalled_bits_total_clamp``: the sum of the unclipped per-position estimates, clamped to
          ``[0, I_T]`` once, on the total: at chance the terms scatter around 0 and cancel, so it
          is the less biased estimate of ``sum_k I(target_k; prediction_k)``.
        - ``recalled_bits_ce_bound``: ``K (log2 A - CE / ln 2)`` clamped at 0, with CE the mean
          cross-entropy (nats) over the recall steps (``loss``). On held-out sequences it is a lower
          bound on the information the outputs' distributions carry about the targets (Barber &
          Agakov): it needs no argmax and no sampling-bias correction, but charges miscalibration
          (a confident wrong answer costs more than ``log2 A``).

        ``recalled_bits_plugin`` is the first sum without bias correction.

        ``correction``: the per-position estimator's bias correction, ``"miller-madow"`` (default)
        or None (plug-in), used by ``recalled_bits`` and ``recalled_bits_total_clamp``. The plug-in
        estimate credits a model that guesses at chance with about ``K (A - 1)^2 / (2 B ln 2)``
        bits (5 bits for K = 128, A = 16 on B = 4000 sequences); Miller-Madow removes that
        first-order bias.
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
        raw = mutual_information(counts, correction, clip=False)  # (..., K)
        loss = masked_cross_entropy(outputs, targets, mask).detach()
        log2_a = math.log2(self.alphabet)
        ce_bound = (self.n_targets * (log2_a - loss.to(torch.float64) / math.log(2.0))).clamp_min(0.0)
        return {
            "loss": loss,
            "accuracy": masked_accuracy(outputs, targets, mask),
            "accuracy_per_position": per_position,
            "recalled_bits_per_position": bits,
            "recalled_bits": bits.sum(-1),
            "recalled_bits_plugin": plugin.sum(-1),
            "recalled_bits_total_clamp": raw.sum(-1).clamp(0.0, self.targeted_bits),
            "recalled_bits_ce_bound": ce_bound,
        }

    def config(self) -> dict:
        """Keyword arguments of :func:`rnnviz.tasks.from_config`; ``protocol`` and ``n_random`` only
        in protocols 2 and 3 (so protocol 1 configs are the original ones)."""
        config = {
            "task": "memorization",
            "n_targets": self.n_targets,
            "alphabet": self.alphabet,
            "n_interfering": self.n_interfering,
            "interference": self.interference,
        }
        if self.protocol in DOSE_PROTOCOLS:
            config.update(protocol=self.protocol, n_random=self.n_random)
        return config


class MemorizationBatches:
    """Batches of an ensemble of :class:`Memorization` tasks, equal to :class:`StackedBatches`'.

    Member e's tokens are drawn with its own CPU generator, by one ``random_`` call per span of its
    drawn steps (the same numbers, in the same order, as ``sample``'s ``randint`` calls). Everything else is
    built for all members at once, on ``device`` after one host-to-device copy of the tokens: the
    one-hot inputs (one embedding lookup; padding steps get a zero input), the targets and the mask.
    ``sampler(generators)`` returns ``inputs (E, T, B, input_size)`` in ``dtype``, ``targets (E, T, B)``
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
        self.one_hot = torch.eye(classes + 1, classes, dtype=dtype, device=self.device)  # (classes + 1, classes)

    def __call__(self, generators: Sequence[torch.Generator]) -> tuple:
        tokens = torch.empty(self.fixed.shape, dtype=self.token_dtype, pin_memory=self.device.type == "cuda")
        tokens.copy_(self.fixed)  # (E, T, B)
        for member, task, g in zip(tokens, self.tasks, generators, strict=True):
            for span in task._drawn_spans:
                member[span].random_(0, self.alphabet, generator=g)
        tokens = tokens.to(self.device, non_blocking=True).long()
        inputs = F.embedding(tokens, self.one_hot)  # (E, T, B, input_size)
        targets = torch.where(self.mask, tokens.gather(1, self.source), 0)  # (E, T, B)
        return inputs, targets, self.mask


class MixedMemorizationBatches:
    """Training batches of the "mixed", "combined", "delay" and "combined-delay" curricula: easier
    instances of each member's task (fewer targets, a shorter delay, or both).

    Sequence b of member e holds K'_b targets, K'_b uniform in 1..K (its task's K), laid out as the
    task at K'_b would be and shifted right by ``2 (K − K'_b)`` steps of padding (a zero input), so
    that every sequence has the task's length T and its recall phase ends the sequence:

    ======================  =============================  ============================
    steps                   protocol 2                     protocol 1
    ======================  =============================  ============================
    [0, p), p = 2(K − K')   padding (zero input)           padding
    [p, p + K')             the K' targets                 the K' targets
    p + K'                  store-end                      (interference starts here)
    next ``n_random``       random symbols                 random symbols ("random": L)
    rest up to T − K' − 1   blanks                         blanks
    T − K' − 1              the recall marker              the recall marker
    [T − K', T)             blanks, scored (the mask)      blanks, scored
    ======================  =============================  ============================

    Protocol 3 is protocol 2's layout with the recall steps asking for positions 0..K' − 1, in order
    (its query tokens), as the task at K' would.

    The interference dose (``n_random`` random symbols, and the delay L + 1 between the last target
    and the marker) is the task's own in every sequence: only the targeted amount varies. For
    training only (``TrainConfig(curriculum="mixed")``): validation and scores use the task itself.
    ``full_fraction`` (in [0, 1)): the chance that a sequence is the task itself (K' = K), the
    "combined" curriculum's 1/2; 0 ("mixed"): K' uniform in 1..K for every sequence.
    Member e draws, from its own generator, its targets ``(K, B)``, its noise ``(n_random, B)``, then
    K' ``(B,)``, then (when ``full_fraction`` > 0) one uniform ``(B,)`` choosing the sequences at K.

    ``vary="delay"`` (the "delay" curriculum) varies the delay instead: every sequence holds all K
    targets, and sequence b waits L'_b delay steps, L'_b uniform in n_random..L (the dose's random
    symbols kept, fewer blanks after them), so each target is held ``K + L'_b + 2`` steps instead of
    the task's ``K + L + 2`` (protocols 2 and 3; :func:`hold_steps`). The layout is the table's with
    K' = K and p = L − L'. ``vary="both"`` (the "combined-delay" curriculum) draws K' and L'
    independently, p = 2 (K − K') + (L − L'). With ``full_fraction`` that share of the sequences is the
    task itself (K' = K and L' = L). A protocol-1 "random" task has n_random = L: no delay to vary.

    ``sampler(generators)`` returns ``inputs (E, T, B, input_size)``, ``targets (E, T, B)`` and
    ``mask (E, T, B)`` (drawn with K', so new on every call), on ``device``.
    """

    #: What a curriculum batch varies per sequence: the number of targets K', the delay L', or both.
    VARIES = ("targets", "delay", "both")

    def __init__(self, tasks: Sequence[Memorization], batch_size: int, device=None, dtype=torch.float32,
                 full_fraction: float = 0.0, vary: str = "targets"):
        self.tasks, self.batch_size = list(tasks), check_int("batch_size", batch_size, 1)
        if not 0.0 <= full_fraction < 1.0:
            raise ValueError(f"full_fraction={full_fraction!r}: expected a number in [0, 1)")
        self.full_fraction = float(full_fraction)
        self.vary = check_choice("vary", vary, self.VARIES)
        _check_members_agree(self.tasks, "a curriculum batch", ("alphabet", "protocol", "length", "input_size"))
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.length = self.tasks[0].length
        classes = self.tasks[0].input_size  # padding steps hold token `classes`: a zero input
        self.padding = classes
        self.one_hot = torch.eye(classes + 1, classes, dtype=dtype, device=self.device)
        self.steps = torch.arange(self.length)[None, :, None]  # (1, T, 1)
        self.n_targets = torch.tensor([t.n_targets for t in self.tasks])[:, None, None]  # (E, 1, 1)
        self.n_random = torch.tensor([t.n_random for t in self.tasks])[:, None, None]  # (E, 1, 1)

    def _draw(self, task: Memorization, g: torch.Generator) -> tuple:
        """One member's random numbers, in its generator's order: targets ``(K, B)``, noise
        ``(n_random, B)``, K' ``(1, B)`` (unless ``vary="delay"``), L' ``(1, B)`` (unless
        ``vary="targets"``), then (with ``full_fraction``) the uniform choosing the sequences that are
        the task itself. Returns the targets, the noise, each sequence's K' and its shift
        p = 2 (K − K') + (L − L'), ``(1, B)`` each."""
        B, K, L = self.batch_size, task.n_targets, task.n_interfering
        symbols = torch.randint(0, task.alphabet, (K, B), generator=g)
        noise = torch.randint(0, task.alphabet, (task.n_random, B), generator=g)
        k = torch.full((1, B), K) if self.vary == "delay" else torch.randint(1, K + 1, (1, B), generator=g)  # K'
        delay = torch.full((1, B), L) if self.vary == "targets" else \
            torch.randint(task.n_random, L + 1, (1, B), generator=g)  # L'
        if self.full_fraction:  # these sequences are the task itself
            full = torch.rand((1, B), generator=g) < self.full_fraction
            k, delay = torch.where(full, K, k), torch.where(full, L, delay)
        return symbols, noise, k, 2 * (K - k) + (L - delay)

    def __call__(self, generators: Sequence[torch.Generator]) -> tuple:
        """Draw each member's numbers from its generator, then lay out every member's batch at once."""
        E, T, B = len(self.tasks), self.length, self.batch_size
        drawn = [self._draw(task, g) for task, g in zip(self.tasks, generators, strict=True)]
        K = self.n_targets  # (E, 1, 1)
        symbols = torch.zeros((E, int(K.max()), B), dtype=torch.int64)
        noise = torch.zeros((E, int(self.n_random.max()), B), dtype=torch.int64)
        for e, (s, r, *_) in enumerate(drawn):
            symbols[e, : s.shape[0]], noise[e, : r.shape[0]] = s, r
        k = torch.stack([k for _, _, k, _ in drawn])  # (E, 1, B): each sequence's K'
        start = torch.stack([p for *_, p in drawn])  # (E, 1, B): the first step of its instance
        t = self.steps  # (1, T, 1)
        first = self.tasks[0]
        tokens = torch.where(t < start, self.padding, first.blank)  # (E, T, B)
        stored = (t >= start) & (t < start + k)
        tokens = torch.where(stored, symbols.gather(1, (t - start).clamp(0, symbols.shape[1] - 1)), tokens)
        noise_start = start + k + (1 if first.store_end is not None else 0)
        if first.store_end is not None:
            tokens = torch.where(t == start + k, first.store_end, tokens)
        if noise.shape[1]:
            drawn_steps = (t >= noise_start) & (t < noise_start + self.n_random)
            tokens = torch.where(drawn_steps, noise.gather(1, (t - noise_start).clamp(0, noise.shape[1] - 1)), tokens)
        tokens = torch.where(t == T - k - 1, first.marker, tokens)
        if first.first_query is not None:  # protocol 3: recall step j asks for position j
            tokens = torch.where(t >= T - k, first.first_query + (t - (T - k)), tokens)
        mask = t >= T - k  # (E, T, B)
        targets = torch.where(mask, symbols.gather(1, (t - (T - k)).clamp(0, symbols.shape[1] - 1)), 0)
        tokens, targets, mask = tokens.to(self.device), targets.to(self.device), mask.to(self.device)
        return F.embedding(tokens, self.one_hot), targets, mask


def _check_members_agree(tasks: Sequence[Memorization], batch: str, fields: Sequence[str]) -> None:
    """Raise a ValueError naming ``fields`` and the values found unless every task has the same
    value of each (``batch`` names what needs them, e.g. "a curriculum batch")."""
    kinds = {tuple(getattr(t, f) for f in fields) for t in tasks}
    if len(kinds) > 1:
        names = [f.replace("_", " ") for f in fields]
        listed = ", ".join(names[:-1]) + " and " + names[-1]
        raise ValueError(f"{batch} needs one {listed} for every member, got ({', '.join(names)}) {sorted(kinds)}")


class PartialRecallBatches:
    """Training batches of the "prefix" and "suffix" curricula: the task itself, its loss on K' of its
    K recall steps, the first K' (``scored="prefix"``) or the last K' (``"suffix"``).

    Member e's sequences are :class:`MemorizationBatches`' (drawn first, from its own generator, the
    same numbers in the same order); then each sequence b draws K'_b uniform in 1..K (its task's K,
    a ``(B,)`` draw from the same generator), and the mask keeps K'_b of its recall steps::

        prefix:  mask'[e, t, b] = mask[e, t, b] and j < K'_b           j = t − r_e, 0-based recall step
        suffix:  mask'[e, t, b] = mask[e, t, b] and j ≥ K_e − K'_b     r_e = member e's first recall step

    Recall step j (1-based) is then scored with probability (K − j + 1) / K (prefix) or j / K
    (suffix), so the mean loss weighs the first (the most recent) targets most: a model asked for
    more targets than its state holds is pushed to hold some of them whole rather than a little of
    each. Targets outside the mask are 0. For training only (``TrainConfig(curriculum="prefix")``):
    validation and scores use the task itself, every recall step. ``sampler(generators)`` returns
    ``inputs (E, T, B, input_size)``, ``targets (E, T, B)`` and ``mask (E, T, B)`` on ``device``
    (the mask drawn anew on every call).
    """

    ENDS = ("prefix", "suffix")

    def __init__(self, tasks: Sequence[Memorization], batch_size: int, device=None, dtype=torch.float32,
                 scored: str = "prefix"):
        self.scored = check_choice("scored", scored, self.ENDS)
        self.tasks = list(tasks)
        _check_members_agree(self.tasks, f"a {scored} curriculum batch", ("alphabet", "protocol", "input_size"))
        self.batches = MemorizationBatches(self.tasks, batch_size, device, dtype)
        self.n_targets = torch.tensor([t.n_targets for t in self.tasks])[:, None, None].to(self.batches.device)

    def __call__(self, generators: Sequence[torch.Generator]) -> tuple:
        inputs, targets, mask = self.batches(generators)  # every member's tokens, from its generator
        B = self.batches.batch_size
        k = torch.stack([torch.randint(1, task.n_targets + 1, (B,), generator=g)
                         for task, g in zip(self.tasks, generators, strict=True)])  # (E, B): K' per sequence
        k = k[:, None, :].to(mask.device)  # (E, 1, B)
        j = self.batches.source  # (E, T, B): the recall step, 0-based, on recall steps
        kept = j < k if self.scored == "prefix" else j >= self.n_targets - k
        scored = mask & kept  # (E, T, B)
        return inputs, torch.where(scored, targets, 0), scored
