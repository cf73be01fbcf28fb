"""Decoding: where and when a stored symbol is linearly readable from the state.

For each label k (a stored symbol, or any class per sequence) and each time step t, a multinomial
logistic regression is fitted on the states ``s_t`` of some sequences and tested on the others
(stratified K-fold cross-validation). Every sequence is predicted once, by the decoder that did not
see it; from these held-out predictions ``ŷ`` come

- the accuracy ``P(ŷ = y)``, with a Wilson score interval over the B held-out predictions;
- the decoded bits ``I(y; ŷ)``, the mutual information of the held-out confusion matrix
  (:func:`rnnviz.tasks.mutual_information`, Miller–Madow corrected by default, the correction
  :meth:`rnnviz.tasks.Memorization.score` uses for the readout's recalled bits, so the two compare),
  with a bias-corrected percentile bootstrap interval over the held-out (y, ŷ) pairs.

Both intervals treat the B held-out predictions as independent. They are not quite (the decoders
share training sequences), so the intervals are somewhat too narrow: on Gaussian states independent
of a balanced label (B = 300, A = 4, 8 units, 41 steps, 4 seeds) the 95 % accuracy interval covered
chance at 88–94 % of the steps, and the bits interval reached down to 0 at 90–92 % (nominal 97.5 %).
The mutual information is clipped to ``[0, log2 A]``, its range (Miller–Madow alone would add
``(A − 1) / (2 B ln 2)`` bits to a perfect decoding), so a perfect decoding reads exactly ``log2 A``.

The decoder of one (member, label, time, fold) problem, for standardised features ``x̃ = (s_t − μ_t) / σ_t``
(mean and spread of each unit over all B sequences at step t: no label is used) and ``n`` training
sequences::

    p(a | s) = softmax_a(W_a · x̃ + b_a)
    minimise  (1/n) Σ_b −log p(y_b | s_b) + (λ/2) ‖W‖²_F            (b not penalised)

All problems are solved together in float64 by one batched L-BFGS (each problem has its own history,
step and stopping test, so a problem's solution does not depend on the others batched with it).
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from statistics import NormalDist

import pandas as pd
import torch

from .._checks import check_choice, check_int, check_number
from ..tasks import confusion_counts, mutual_information
from ..tasks._information import CORRECTIONS
from ._traces import states_of

_CHUNK_ELEMENTS = 1 << 22  # logits per batched optimisation (E·t·K·F·B·A): about 32 MB in float64


@dataclass(frozen=True, eq=False)
class Decoding:
    """Cross-validated linear decoding of K labels from the states at T' time steps.

    Shapes (one model; an ensemble of E models puts E in front of each tensor):

    - ``accuracy``, ``accuracy_low``, ``accuracy_high`` ``(K, T')``: held-out accuracy and its
      Wilson score interval at level ``confidence`` (B held-out predictions taken as independent).
    - ``bits``, ``bits_low``, ``bits_high`` ``(K, T')``: mutual information (bits) between the label
      and its held-out prediction, estimated from the confusion counts with ``correction``, and a
      bias-corrected percentile bootstrap interval (``info["n_bootstrap"]`` resamples of the B
      (y, ŷ) pairs).
    - ``chance`` ``(K,)``: the majority rate, the accuracy of always guessing the most frequent
      class (``1/A`` for balanced labels). Chance in bits is 0.
    - ``predictions`` ``(K, T', B)`` int64: each sequence's held-out prediction.
    - ``labels`` ``(K, B)`` int64: the decoded labels.
    - ``times`` ``(T',)`` int64: the state indices decoded (0 is ``s0``, t the state after t inputs),
      out of ``n_states`` (T + 1) in the trace.

    ``n_classes`` (A), ``folds``, ``l2``, ``confidence`` and ``correction`` are the settings;
    ``info`` records the optimisation (``iterations``, ``max_gradient``, ``seconds``, ``n_bootstrap``).
    """

    accuracy: torch.Tensor
    accuracy_low: torch.Tensor
    accuracy_high: torch.Tensor
    bits: torch.Tensor
    bits_low: torch.Tensor
    bits_high: torch.Tensor
    chance: torch.Tensor
    predictions: torch.Tensor
    labels: torch.Tensor
    times: torch.Tensor
    n_states: int
    n_classes: int
    folds: int
    l2: float
    confidence: float
    correction: str | None
    info: dict = field(default_factory=dict)

    @property
    def ensemble(self) -> bool:
        """Whether the tensors carry a leading member axis."""
        return self.accuracy.dim() == 3

    @property
    def n_labels(self) -> int:
        return self.accuracy.shape[-2]

    @property
    def n_samples(self) -> int:
        return self.predictions.shape[-1]

    @property
    def max_bits(self) -> float:
        """``log2 A``: all of a uniformly drawn symbol."""
        return math.log2(self.n_classes)

    def member(self, i: int) -> Decoding:
        """Member i of an ensemble's decoding, as a single model's :class:`Decoding`."""
        if not self.ensemble:
            raise ValueError("member() needs an ensemble's decoding (accuracy (E, K, T'))")
        check_int("i", i, 0, self.accuracy.shape[0] - 1)
        names = ("accuracy", "accuracy_low", "accuracy_high", "bits", "bits_low", "bits_high", "chance",
                 "predictions", "labels")
        return replace(self, **{name: getattr(self, name)[i] for name in names})

    def to_frame(self) -> pd.DataFrame:
        """A tidy DataFrame, one row per (member, label, time): ``member`` (ensembles only), ``label``,
        ``time``, ``accuracy``, ``accuracy_low``, ``accuracy_high``, ``bits``, ``bits_low``,
        ``bits_high``, ``chance``."""
        if self.ensemble:
            frames = [self.member(e).to_frame() for e in range(self.accuracy.shape[0])]
            return pd.concat([f.assign(member=e) for e, f in enumerate(frames)], ignore_index=True)[
                ["member", *frames[0].columns]]
        K, T = self.accuracy.shape
        columns = {"label": torch.arange(K).repeat_interleave(T).numpy(),
                   "time": self.times.repeat(K).cpu().numpy()}
        for name in ("accuracy", "accuracy_low", "accuracy_high", "bits", "bits_low", "bits_high"):
            columns[name] = getattr(self, name).reshape(-1).cpu().numpy()
        columns["chance"] = self.chance.repeat_interleave(T).cpu().numpy()
        return pd.DataFrame(columns)


def decoding(trace, labels, *, n_classes: int | None = None, times: Sequence[int] | None = None,
             folds: int = 5, l2: float = 1e-2, confidence: float = 0.95, correction: str | None = "miller-madow",
             n_bootstrap: int = 200, seed: int = 0, ensemble: bool | None = None, max_iter: int = 200,
             tol: float = 1e-5) -> Decoding:
    """Decode each label from the state at every time step with cross-validated logistic regression.

    Args:
        trace: a :class:`rnnviz.Trace` or its states ``(T+1, B, S)``; an ensemble's ``(E, T+1, B, S)``.
        labels: integer classes per sequence: ``(B,)`` (one label) or ``(B, K)`` (K labels, e.g. the
            K stored symbols of :class:`rnnviz.tasks.Memorization`: ``targets.T`` from
            ``sample_symbols``); an ensemble may give its own per member, ``(E, B, K)``.
        n_classes: A, the number of classes (default: the largest label + 1, at least 2).
        times: state indices to decode (in ``[0, T]``; default all ``T + 1``).
        folds: cross-validation folds (2 ≤ folds ≤ B), stratified by class, shuffled with ``seed``.
        l2: λ ≥ 0, the ridge penalty on the weights (not the bias) of a decoder on standardised states.
        confidence: level of both intervals (default 95 %).
        correction: the bits' bias correction, ``"miller-madow"`` or None (plug-in).
        n_bootstrap: resamples for the bits' bootstrap interval.
        seed: seeds the folds and the bootstrap (the same seed gives the same result).
        ensemble: whether the states carry a leading member axis; by default, True for 4-D states.
        max_iter, tol: L-BFGS iterations at most, and the stopping test ``max |∇| < tol`` per problem.

    Returns:
        :class:`Decoding`.
    """
    states = states_of(trace).detach()
    if ensemble is None:
        ensemble = states.dim() == 4
    if states.dim() != (4 if ensemble else 3):
        want = "(E, T+1, B, S)" if ensemble else "(T+1, B, S)"
        raise ValueError(f"trace states must have shape {want}, got {tuple(states.shape)}")
    states = states if ensemble else states.unsqueeze(0)  # (E, T+1, B, S)
    E, T1, B, S = states.shape
    if B < 2:
        raise ValueError(f"trace must hold at least 2 sequences to cross-validate, got B={B}")
    if not bool(torch.isfinite(states).all()):
        raise ValueError("trace states must be finite (found NaN or inf)")
    folds = check_int("folds", folds, 2, B)
    l2 = check_number("l2", l2, low=0.0)
    confidence = check_number("confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True)
    check_choice("correction", correction, CORRECTIONS)
    n_bootstrap = check_int("n_bootstrap", n_bootstrap, 1)
    check_int("seed", seed, 0)
    max_iter = check_int("max_iter", max_iter, 1)
    tol = check_number("tol", tol, low=0.0, low_open=True)
    if times is None:
        times = list(range(T1))
    else:
        if isinstance(times, (str, bytes)) or not isinstance(times, Sequence) or not len(times):
            raise TypeError(f"times must be a non-empty sequence of state indices, got {times!r}")
        times = [check_int(f"times[{i}]", t, 0, T1 - 1) for i, t in enumerate(times)]
    y, A = _labels(labels, E if ensemble else None, B, n_classes)  # (E or 1, K, B)
    device = states.device
    y = y.to(device)
    K = y.shape[1]

    start = _time.perf_counter()
    generator = torch.Generator().manual_seed(seed)
    fold_of = _stratified_folds(y, folds, generator).to(device)  # (E or 1, K, B)
    x = _standardise(states[:, times].double())  # (E, T', B, S + 1)
    predictions, iterations, max_gradient = [], 0, 0.0
    per_time = E * K * folds * B * A
    chunk = max(1, _CHUNK_ELEMENTS // per_time)
    for lo in range(0, len(times), chunk):
        pred, its, grad = _decode(x[:, lo:lo + chunk], y, fold_of, A, folds, l2, max_iter, tol)
        predictions.append(pred)
        iterations, max_gradient = max(iterations, its), max(max_gradient, grad)
    predictions = torch.cat(predictions, dim=2)  # (E, K, T', B)

    truth = y[:, :, None, :].expand(E, K, len(times), B)  # (E, K, T', B)
    accuracy = (predictions == truth).double().mean(-1)  # (E, K, T')
    low, high = _wilson(accuracy, B, confidence)
    bits = mutual_information(confusion_counts(truth, predictions, A), correction)  # (E, K, T')
    bits_low, bits_high = _bootstrap_bits(truth, predictions, bits, A, correction, n_bootstrap, confidence,
                                         generator)
    counts = torch.nn.functional.one_hot(y, A).sum(-2)  # (E or 1, K, A)
    chance = (counts.max(-1).values.double() / B).expand(E, K)
    info = {"iterations": iterations, "max_gradient": max_gradient, "n_bootstrap": n_bootstrap,
            "seconds": _time.perf_counter() - start}

    result = {"accuracy": accuracy, "accuracy_low": low, "accuracy_high": high, "bits": bits,
              "bits_low": bits_low, "bits_high": bits_high, "chance": chance, "predictions": predictions,
              "labels": y.expand(E, K, B)}
    if not ensemble:
        result = {name: value[0] for name, value in result.items()}
    return Decoding(**result, times=torch.tensor(times, dtype=torch.int64), n_states=T1, n_classes=A,
                    folds=folds, l2=l2, confidence=confidence, correction=correction, info=info)


def _labels(labels, members: int | None, B: int, n_classes: int | None):
    """Labels as int64 ``(E or 1, K, B)`` and the number of classes A, checked against the states."""
    labels = torch.as_tensor(labels)
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise TypeError(f"labels must be integer classes, got dtype {labels.dtype}")
    shapes = "(B,) or (B, K)" + (" or (E, B, K)" if members is not None else "")
    if labels.dim() == 1:
        labels = labels[None, :, None]
    elif labels.dim() == 2:
        labels = labels[None]
    elif labels.dim() == 3 and members is not None:
        if labels.shape[0] != members:
            raise ValueError(f"labels (E, B, K) must have E={members} members like the states, "
                             f"got shape {tuple(labels.shape)}")
    else:
        raise ValueError(f"labels must have shape {shapes}, got {tuple(labels.shape)}")
    if labels.shape[1] != B:
        raise ValueError(f"labels must have B={B} sequences like the states (shape {shapes}), "
                         f"got shape {tuple(labels.shape)}")
    if labels.shape[2] == 0:
        raise ValueError("labels must hold at least one label per sequence, got K=0")
    labels = labels.long().transpose(1, 2).contiguous()  # (E or 1, K, B)
    if int(labels.min()) < 0:
        raise ValueError(f"labels must be classes >= 0, got {int(labels.min())}")
    A = max(int(labels.max()) + 1, 2) if n_classes is None else check_int("n_classes", n_classes, 2)
    if int(labels.max()) >= A:
        raise ValueError(f"labels must lie in [0, n_classes={A}), got {int(labels.max())}")
    return labels, A


def _stratified_folds(y: torch.Tensor, folds: int, generator: torch.Generator) -> torch.Tensor:
    """Fold of each sequence ``(…, K, B)``: shuffled, then dealt round-robin within each class."""
    y = y.cpu()
    B = y.shape[-1]
    flat = y.reshape(-1, B)
    fold_of = torch.empty_like(flat)
    for row, labels in enumerate(flat):
        order = torch.randperm(B, generator=generator)
        order = order[torch.argsort(labels[order], stable=True)]  # by class, shuffled within it
        fold_of[row, order] = torch.arange(B) % folds
    return fold_of.reshape(y.shape)


def _standardise(x: torch.Tensor) -> torch.Tensor:
    """``(E, T', B, S)`` → each unit centred and scaled over the B sequences (constant units → 0),
    with a column of ones for the bias: ``(E, T', B, S + 1)``."""
    x = x - x.mean(-2, keepdim=True)
    scale = x.pow(2).mean(-2, keepdim=True).sqrt()
    x = x / torch.where(scale > 1e-12, scale, torch.ones_like(scale))
    return torch.cat([x, torch.ones_like(x[..., :1])], dim=-1)


def _decode(x, y, fold_of, A, folds, l2, max_iter, tol):
    """Fit every (member, time, label, fold) decoder (:func:`_fit`) and return the held-out
    predictions ``(E, K, t, B)``, the iterations run and the largest final gradient entry."""
    W, iterations, gradient, logits = _fit(x, y, fold_of, A, folds, l2, max_iter, tol)
    E, T, B, _ = x.shape
    K = y.shape[1]
    held_out = fold_of.transpose(1, 2)[:, None, :, None, :, None].expand(E, T, B, A, K, 1)
    pred = logits(W).gather(5, held_out).squeeze(5).argmax(3)  # (E, T, B, K): each sequence by its own fold
    return pred.permute(0, 3, 1, 2), iterations, gradient


def _fit(x, y, fold_of, A, folds, l2, max_iter, tol):
    """The weights ``W (E, t, K, F, P, A)`` of every (member, time, label, fold) decoder, the iterations
    run, the largest final gradient entry and ``logits(W) -> (E, t, B, A, K, F)``.

    x ``(E, t, B, P)`` standardised states with a ones column (``W[..., :-1, :]`` are the weights,
    ``W[..., -1, :]`` the bias); y, fold_of ``(E or 1, K, B)``. Problem (e, t, k, f) trains on the
    sequences outside fold f. The logits of all problems are one batched matmul
    ``x (E, t, B, P) @ W (E, t, P, A·K·F)``.
    """
    E, T, B, P = x.shape
    K = y.shape[1]
    folds_range = torch.arange(folds, device=x.device)
    labels = y.transpose(1, 2)[:, None, :, None, :, None]  # (E|1, 1, B, 1, K, 1)
    train = (fold_of.transpose(1, 2)[:, None, :, :, None] != folds_range).double()  # (E|1, 1, B, K, F)
    weight = train / train.sum(2, keepdim=True)  # 1/n on the training sequences, 0 on the held-out
    classes = labels.expand(E, T, B, 1, K, folds)  # gather takes its output shape from the index
    target = (labels == torch.arange(A, device=x.device)[:, None, None]).double()  # (E|1, 1, B, A, K, 1)
    penalised = torch.ones(P, 1, dtype=x.dtype, device=x.device)
    penalised[-1] = 0.0  # the bias is not penalised

    # the class axis sits before (K, F) in the logits (E, T, B, A, K, F): reductions over classes then
    # run over contiguous K·F blocks instead of a tiny innermost axis
    def logits(W):  # W (E, T, K, F, P, A) -> z (E, T, B, A, K, F)
        flat = W.permute(0, 1, 4, 5, 2, 3).reshape(E, T, P, A * K * folds)
        return (x @ flat).reshape(E, T, B, A, K, folds)

    def objective(W, gradient: bool = True):  # loss (E, T, K, F) [and its gradient, like W]
        z = logits(W)
        z = z - z.amax(3, keepdim=True)
        e = z.exp()
        total = e.sum(3, keepdim=True)
        nll = (total.log() - z.gather(3, classes)).squeeze(3)  # -log p(y | s)   (E, T, B, K, F)
        loss = (weight * nll).sum(2) + 0.5 * l2 * (W * W * penalised).sum((-2, -1))
        if not gradient:
            return loss
        residual = ((e / total - target) * weight[:, :, :, None]).reshape(E, T, B, A * K * folds)
        grad = (x.transpose(-2, -1) @ residual).reshape(E, T, P, A, K, folds).permute(0, 1, 4, 5, 2, 3)
        return loss, grad + l2 * penalised * W

    W = torch.zeros(E, T, K, folds, P, A, dtype=x.dtype, device=x.device)
    W, iterations, gradient = _lbfgs(objective, W, max_iter, tol)
    return W, iterations, gradient, logits


def _dot(a, b):
    return (a * b).sum((-2, -1))


def _lbfgs(objective, W, max_iter: int, tol: float, memory: int = 10, max_halvings: int = 40):
    """Batched L-BFGS over the leading axes of W ``(…, P, A)``: per problem its own curvature pairs,
    its own Armijo backtracking step and its own stop (``max |∇| < tol``, or a step that lowers its
    loss by no more than rounding). ``objective(W)`` returns per-problem losses ``(…)`` and gradients like W;
    ``objective(W, gradient=False)`` the losses only."""
    loss, grad = objective(W)
    pairs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # (s, y, 1/(s·y) or 0)
    active = grad.abs().amax((-2, -1)) >= tol
    iterations = 0
    while bool(active.any()) and iterations < max_iter:
        iterations += 1
        q, alphas = grad.clone(), []
        for s, y, rho in reversed(pairs):
            a = rho * _dot(s, q)
            q -= a[..., None, None] * y
            alphas.append(a)
        if pairs:  # scale by s·y / y·y of the latest usable pair (1/‖g‖ when there is none)
            s, y, rho = pairs[-1]
            gamma = torch.where(rho > 0, 1.0 / (rho * _dot(y, y)).clamp_min(1e-300), 0.0)
        else:
            gamma = torch.zeros_like(loss)
        fallback = 1.0 / grad.pow(2).sum((-2, -1)).sqrt().clamp_min(1.0)
        gamma = torch.where(gamma > 0, gamma, fallback)
        d = gamma[..., None, None] * q
        for (s, y, rho), a in zip(pairs, reversed(alphas), strict=True):
            d += (a - rho * _dot(y, d))[..., None, None] * s
        d = -d
        slope = _dot(grad, d)
        uphill = slope >= 0  # not a descent direction: take the gradient
        d = torch.where(uphill[..., None, None], -grad, d)
        slope = torch.where(uphill, -grad.pow(2).sum((-2, -1)), slope)
        step = active.double()  # inactive problems do not move
        new_loss, new_grad = objective(W + step[..., None, None] * d)  # the full step, usually taken
        pending = active & ~(new_loss <= loss + 1e-4 * step * slope)
        if bool(pending.any()):
            for _ in range(max_halvings):
                step = torch.where(pending, step / 2, step)
                ok = objective(W + step[..., None, None] * d, gradient=False) <= loss + 1e-4 * step * slope
                pending &= ~ok
                if not bool(pending.any()):
                    break
            step = torch.where(pending, 0.0, step)  # no decrease found: this problem stops where it is
            active &= ~pending
            new_loss, new_grad = objective(W + step[..., None, None] * d)
        s = step[..., None, None] * d
        y = new_grad - grad
        sy = _dot(s, y)
        rho = torch.where(sy > 1e-12, 1.0 / sy.clamp_min(1e-12), 0.0)  # a pair without curvature is skipped
        pairs = (pairs + [(s, y, rho)])[-memory:]
        stalled = loss - new_loss <= 1e-14 * loss.abs().clamp_min(1.0)  # no progress at double precision
        W, loss, grad = W + s, new_loss, new_grad
        active &= (grad.abs().amax((-2, -1)) >= tol) & ~stalled
    return W, iterations, float(grad.abs().max())


def _wilson(p: torch.Tensor, n: int, confidence: float):
    """Wilson score interval for a proportion p of n trials."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * torch.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half).clamp_min(0.0), (centre + half).clamp_max(1.0)


def _bootstrap_bits(truth, predictions, bits, A, correction, n_bootstrap, confidence, generator):
    """Bias-corrected percentile bootstrap interval (Efron's BC) of the bits of each (member, label,
    time): its B (y, ŷ) pairs resampled with replacement (the same resamples for all), the estimate
    recomputed on each resample, and the percentiles shifted by ``z0 = Φ⁻¹(share of resamples below
    the estimate)``: levels ``Φ(2 z0 ∓ z)``. Resampling repeats pairs, which inflates a mutual
    information estimate, so the plain percentile interval would sit above the estimate and often
    exclude 0 bits for a label the state does not hold; the shift removes that median bias."""
    lead, B = truth.shape[:-1], truth.shape[-1]
    index = torch.randint(0, B, (n_bootstrap, B), generator=generator).to(truth.device)  # (R, B)
    truth, predictions, bits = truth.reshape(-1, B), predictions.reshape(-1, B), bits.reshape(-1, 1)
    rows = max(1, _CHUNK_ELEMENTS // (n_bootstrap * B))
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    sides = torch.tensor([-z, z], dtype=torch.float64, device=truth.device)
    bounds = []
    for lo in range(0, len(truth), rows):
        t, p, estimate = truth[lo:lo + rows][:, index], predictions[lo:lo + rows][:, index], bits[lo:lo + rows]
        resampled = mutual_information(confusion_counts(t, p, A), correction).sort(-1).values  # (rows, R)
        below = (resampled < estimate).double().mean(-1) + 0.5 * (resampled == estimate).double().mean(-1)
        z0 = torch.special.ndtri(below.clamp(0.5 / n_bootstrap, 1 - 0.5 / n_bootstrap))  # (rows,)
        position = torch.special.ndtr(2 * z0[:, None] + sides) * (n_bootstrap - 1)  # (rows, 2)
        left = position.floor().long().clamp_max(n_bootstrap - 1)
        right = position.ceil().long().clamp_max(n_bootstrap - 1)
        share = position - left
        bounds.append(resampled.gather(1, left) * (1 - share) + resampled.gather(1, right) * share)
    bounds = torch.cat(bounds)  # (rows, 2): linear interpolation between order statistics
    return bounds[:, 0].reshape(lead), bounds[:, 1].reshape(lead)
