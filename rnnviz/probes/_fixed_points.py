"""Fixed points and slow points of a cell with its input held fixed (Sussillo & Barak 2013).

For a step ``s' = F(x*, s)`` the speed is ``q(s) = ½ ‖F(x*, s) − s‖²``; fixed points have q = 0.
:func:`fixed_points` minimises q from N initial states at once, on the cell's device:

1. Adam on all N points together (one forward and one backward of ``cell.step`` per iteration).
   Nothing is copied to the host inside the loop: convergence is tested on the device every
   ``check_every`` iterations and read back once per test. Each point keeps its best state so far
   and stops moving once its q is below the Adam tolerance; the learning rate can decay; gradients
   can be clipped per point.
2. Optional Newton polishing in float64: ``s ← s − (J − I)⁻¹ (F(s) − s)`` with backtracking, kept
   only where it lowers q. Near a fixed point this reaches q ≈ 1e-30 in a few steps.
3. Outliers (farther from the centroid of the initial states than ``outlier_scale`` times their mean
   distance to it) are dropped; points closer than ``dedup_distance`` are merged, keeping the lowest q.
4. Points with q < ``tol_q`` are the fixed points; the others are returned apart, as slow points.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .._checks import check_int
from ._jacobians import (
    cell_device_dtype,
    ensemble_size,
    float64_copy,
    held_input,
    state_and_input_jacobians,
    step_jacobians,
)

_FIELDS = ("states", "inputs", "q", "jacobians", "input_jacobians", "eigenvalues", "eigenvectors", "converged")


@dataclass(frozen=True, eq=False)
class FixedPoints:
    """Fixed (or slow) points of a cell under held inputs, with their linearisation.

    Attributes (N points, S = state_size, m = input_size):
        states: ``(N, S)`` the points.
        inputs: ``(N, m)`` the held input at each point.
        q: ``(N,)`` speed ``½‖F(x, s) − s‖²`` at each point.
        jacobians: ``(N, S, S)`` ``∂F/∂s`` at each point.
        input_jacobians: ``(N, S, m)`` ``∂F/∂x`` at each point.
        eigenvalues: ``(N, S)`` complex eigenvalues of each Jacobian, sorted by decreasing modulus.
        eigenvectors: ``(N, S, S)`` complex right eigenvectors; column k belongs to eigenvalue k.
        converged: ``(N,)`` bool, q < tol_q.
        tol_q: the tolerance that defined convergence.
        slow_points: the points that did not reach tol_q (a FixedPoints of their own), or None.
        info: counts and settings of the search: ``iterations`` (Adam), ``seconds`` (Adam, Newton
            and Jacobians), ``adam_seconds``, ``n_initial`` (N), ``n_converged`` (how many of the N
            searches ended below ``tol_q``, before outliers and duplicates are removed),
            ``n_outliers``, ``n_duplicates``, ``n_slow``, ``newton_steps``, ``dtype``, ``device``.

    A frozen result: derive new ones by indexing (``fps[fps.is_stable]``); :meth:`to_frame` gives one row per point.
    """

    states: torch.Tensor
    inputs: torch.Tensor
    q: torch.Tensor
    jacobians: torch.Tensor
    input_jacobians: torch.Tensor
    eigenvalues: torch.Tensor
    eigenvectors: torch.Tensor
    converged: torch.Tensor
    tol_q: float = 1e-12
    slow_points: FixedPoints | None = None
    info: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ construction
    @classmethod
    def at(cls, cell, states: torch.Tensor, x: torch.Tensor, *, tol_q: float = 1e-12,
           float64: bool = True) -> FixedPoints:
        """Linearise a single cell at given points ``(N, S)`` under held input ``(m,)`` or ``(N, m)``.

        Computes q, the state and input Jacobians and the eigen-decomposition (in float64 when
        ``float64``). Use this for candidate points found by other means.
        """
        if ensemble_size(cell) is not None:
            raise ValueError("FixedPoints.at needs a single cell; for an ensemble use cell.member(i)")
        if states.dim() != 2 or states.shape[-1] != cell.state_size:
            raise ValueError(f"states must have shape (N, {cell.state_size}), got {tuple(states.shape)}")
        work = float64_copy(cell) if float64 else cell
        _, dtype = cell_device_dtype(work)
        s = states.detach().to(dtype)
        xs = held_input(x.detach().to(dtype), s.shape[:-1], cell.input_size)
        with torch.no_grad():
            q = 0.5 * (work.step(xs, s) - s).pow(2).sum(-1)
        J, K = state_and_input_jacobians(work, xs, s)
        return cls._assemble(s, xs, q, J, K, tol_q)

    @classmethod
    def _assemble(cls, s, xs, q, J, K, tol_q, info=None, slow_points=None) -> FixedPoints:
        if len(s):
            lam, vec = torch.linalg.eig(J)
            order = lam.abs().argsort(dim=-1, descending=True)  # (N, S)
            lam = lam.gather(-1, order)
            vec = vec.gather(-1, order.unsqueeze(-2).expand_as(vec))
        else:
            S = s.shape[-1]
            ctype = torch.complex128 if s.dtype == torch.float64 else torch.complex64
            lam = torch.zeros(0, S, dtype=ctype, device=s.device)
            vec = torch.zeros(0, S, S, dtype=ctype, device=s.device)
        return cls(states=s, inputs=xs, q=q, jacobians=J, input_jacobians=K, eigenvalues=lam,
                   eigenvectors=vec, converged=q < tol_q, tol_q=tol_q, slow_points=slow_points,
                   info=dict(info or {}))

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return self.states.shape[0]

    def __getitem__(self, index) -> FixedPoints:
        """A subset (index, slice or boolean mask ``(N,)``); ``slow_points`` and ``info`` are not kept."""
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return FixedPoints(**{k: getattr(self, k)[index] for k in _FIELDS}, tol_q=self.tol_q)

    @property
    def spectral_radius(self) -> torch.Tensor:
        """``(N,)`` max |λ| of each Jacobian."""
        return self.eigenvalues.abs().amax(-1) if len(self) else self.q.new_zeros(0)

    @property
    def is_stable(self) -> torch.Tensor:
        """``(N,)`` bool: max |λ| < 1 (discrete time)."""
        return self.spectral_radius < 1

    @property
    def n_unstable(self) -> torch.Tensor:
        """``(N,)`` number of eigenvalues with |λ| > 1 (0: stable; ≥ 1: saddle or repeller)."""
        return (self.eigenvalues.abs() > 1).sum(-1)

    def unstable_directions(self, i: int) -> torch.Tensor:
        """Real unit vectors ``(k, S)`` along the unstable eigenvectors of point i (real parts)."""
        unstable = self.eigenvalues[i].abs() > 1
        v = self.eigenvectors[i][:, unstable].real.T  # (k, S)
        return v / v.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(v.dtype).tiny)

    def to_frame(self) -> pd.DataFrame:
        """One row per point: ``point`` (its index), ``q``, ``converged``, ``spectral_radius``, ``stable``
        and ``n_unstable`` (the slow points are not included: ``fps.slow_points.to_frame()``)."""
        return pd.DataFrame({
            "point": np.arange(len(self)),
            "q": self.q.detach().double().cpu().numpy(),
            "converged": self.converged.cpu().numpy().astype(bool),
            "spectral_radius": self.spectral_radius.detach().double().cpu().numpy(),
            "stable": self.is_stable.cpu().numpy().astype(bool),
            "n_unstable": self.n_unstable.cpu().numpy().astype(np.int64),
        })

    def contains(self, state: torch.Tensor, tol: float = 1e-3) -> bool:
        """True when some point lies within ``tol`` (L2) of ``state`` ``(S,)``."""
        if not len(self):
            return False
        return bool((self.states - state.to(self.states)).norm(dim=-1).min() <= tol)

    def __repr__(self) -> str:
        n_stable = int(self.is_stable.sum()) if len(self) else 0
        slow = "" if self.slow_points is None else f", slow_points={len(self.slow_points)}"
        return (f"FixedPoints(n={len(self)}, stable={n_stable}, unstable={len(self) - n_stable}, "
                f"max_q={float(self.q.max()) if len(self) else float('nan'):.3g}{slow})")

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> None:
        """Write to ``path`` with ``torch.save`` (tensors, numbers and strings only: loads without pickle)."""
        torch.save(self._to_dict(), path)

    @classmethod
    def load(cls, path, map_location=None) -> FixedPoints:
        """Read a file written by :meth:`save` with ``torch.load(weights_only=True)`` (no code runs)."""
        return cls._from_dict(torch.load(path, map_location=map_location, weights_only=True))

    def _to_dict(self) -> dict:
        d = {k: getattr(self, k).detach().cpu() for k in _FIELDS}
        d["tol_q"] = float(self.tol_q)
        d["info"] = {k: v for k, v in self.info.items() if isinstance(v, (int, float, str, bool))}
        if self.slow_points is not None:
            d["slow_points"] = self.slow_points._to_dict()
        return d

    @classmethod
    def _from_dict(cls, d: dict) -> FixedPoints:
        slow = d.get("slow_points")
        return cls(**{k: d[k] for k in _FIELDS}, tol_q=d["tol_q"], info=dict(d.get("info", {})),
                   slow_points=None if slow is None else cls._from_dict(slow))


# ---------------------------------------------------------------------- the search
def _speed(cell, x, s):
    """``q = ½‖F(x, s) − s‖²`` per point, ``(…, N)``."""
    return 0.5 * (cell.step(x, s) - s).pow(2).sum(-1)


def _adam(cell, x, s0, *, tol, max_iter, lr, betas, eps, lr_decay, clip_norm, check_every,
          stall_rtol, progress):
    """Joint Adam on q from ``s0`` ``(…, N, S)``; returns (best states, best q, iterations).

    The loop never synchronises with the host except once every ``check_every`` iterations.
    """
    b1, b2 = betas
    s = s0.detach().clone()
    m = torch.zeros_like(s)
    v = torch.zeros_like(s)
    with torch.no_grad():
        q_best = _speed(cell, x, s)
    s_best = s.clone()
    q_check = q_best.clone()
    it = 0
    bar = tqdm(total=max_iter, desc="fixed points", disable=not progress, leave=False)
    while it < max_iter:
        for _ in range(min(check_every, max_iter - it)):
            it += 1
            s.requires_grad_(True)
            with torch.enable_grad():
                q = _speed(cell, x, s)
                (g,) = torch.autograd.grad(q.sum(), s)
            s = s.detach()
            q = q.detach()
            better = q < q_best  # (…, N)
            q_best = torch.where(better, q, q_best)
            s_best = torch.where(better.unsqueeze(-1), s, s_best)
            if clip_norm is not None:
                g = g * (clip_norm / g.norm(dim=-1, keepdim=True).clamp_min(1e-30)).clamp(max=1.0)
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            step_lr = lr * lr_decay ** (it / check_every) * math.sqrt(1 - b2 ** it) / (1 - b1 ** it)
            active = (q_best >= tol).unsqueeze(-1)  # converged points stop moving
            s = torch.where(active, s - step_lr * m / (v.sqrt() + eps), s)
        bar.update(check_every)
        # one host read per check: every point converged, or none improved noticeably
        done = (q_best < tol).all()
        improving = ((q_check - q_best) > stall_rtol * q_check) & (q_best >= tol)
        stop = torch.stack([done, ~improving.any()]).cpu()
        q_check = q_best.clone()
        if bool(stop[0]) or bool(stop[1]):
            break
    bar.close()
    return s_best, q_best, it


def _newton(cell64, x, s, q, *, steps, tol):
    """Float64 Newton polishing with backtracking, kept only where it lowers q."""
    S = s.shape[-1]
    eye = torch.eye(S, dtype=s.dtype, device=s.device)
    for _ in range(steps):
        if not bool((q > tol * 1e-12).any()):
            break
        with torch.no_grad():
            r = cell64.step(x, s) - s  # (…, N, S)
        J = step_jacobians(cell64, x, s)
        delta, info = torch.linalg.solve_ex(J - eye, -r)
        delta = torch.where((info == 0).unsqueeze(-1) & delta.isfinite(), delta, 0.0)
        for t in (1.0, 0.5, 0.25, 0.125):
            s_try = s + t * delta
            with torch.no_grad():
                q_try = _speed(cell64, x, s_try)
            better = q_try < q
            s = torch.where(better.unsqueeze(-1), s_try, s)
            q = torch.where(better, q_try, q)
    return s, q


def _deduplicate(z: torch.Tensor, q: torch.Tensor, distance: float) -> np.ndarray:
    """Indices of points ``z`` ``(N, D)`` kept after merging points closer than ``distance``, lowest q first."""
    if distance <= 0 or len(z) == 0:
        return np.arange(len(z))
    d = torch.cdist(z.double(), z.double()).cpu().numpy()  # (N, N)
    order = np.argsort(q.cpu().numpy(), kind="stable")
    kept: list[int] = []
    for i in order:
        if not kept or d[i, kept].min() > distance:
            kept.append(int(i))
    return np.array(kept, dtype=np.int64)


def _select(s, xs, q, J, K, s0, *, tol_q, outlier_scale, dedup_distance, info) -> FixedPoints:
    """Drop outliers and duplicates among one model's N candidates, then split fixed from slow points."""
    centre = s0.mean(0)
    keep = s.isfinite().all(-1) & q.isfinite()
    if outlier_scale is not None:
        scale = (s0 - centre).norm(dim=-1).mean().clamp_min(1e-12)
        keep = keep & ((s - centre).norm(dim=-1) <= outlier_scale * scale)
    idx = keep.nonzero().squeeze(-1)
    kept = idx[torch.as_tensor(_deduplicate(torch.cat([s[idx], xs[idx]], -1), q[idx], dedup_distance),
                               device=idx.device)]
    conv = q[kept] < tol_q
    main, slow = kept[conv], kept[~conv]
    slow_points = FixedPoints._assemble(s[slow], xs[slow], q[slow], J[slow], K[slow], tol_q)
    return FixedPoints._assemble(s[main], xs[main], q[main], J[main], K[main], tol_q,
                                 {**info, "n_initial": len(s), "n_converged": int((q < tol_q).sum()),
                                  "n_outliers": len(s) - len(idx),
                                  "n_duplicates": len(idx) - len(kept), "n_slow": len(slow)},
                                 slow_points=slow_points)


def fixed_points(cell, x, initial_states, *, tol_q: float = 1e-12, max_iter: int = 5000,
                 lr: float = 5e-2, betas=(0.9, 0.999), eps: float = 1e-8, lr_decay: float = 1.0,
                 clip_norm: float | None = None, check_every: int = 100, stall_rtol: float = 1e-4,
                 newton_steps: int = 10, newton_from_q: float = 1e-4, outlier_scale: float | None = 10.0,
                 dedup_distance: float = 1e-3, progress: bool = False):
    """Find the fixed points of ``s ↦ cell.step(x, s)`` from many initial states at once.

    Args:
        cell: a rnnviz cell (or any module with ``step``, ``state_size``, ``input_size``).
        x: held input, ``(input_size,)`` or one per initial state ``(N, input_size)``
            (ensembles: also ``(E, N, input_size)``).
        initial_states: ``(N, state_size)``; for an ensemble ``(E, N, state_size)`` or ``(N, S)``
            shared by all members. See :func:`sample_initial_states`.
        tol_q: a point with ``q < tol_q`` is a fixed point.
        max_iter, lr, betas, eps: Adam settings; ``lr_decay``: factor applied to the learning rate
            every ``check_every`` iterations (smoothly); ``clip_norm``: clip each point's gradient norm.
            The default lr suits states of order 1 followed by Newton; Adam alone reaches tight
            tolerances only with a decaying rate (e.g. ``lr=1e-2, lr_decay=0.7``).
        check_every: iterations between convergence checks (the only host synchronisations).
        stall_rtol: stop when no unconverged point lowered its best q by this relative amount
            between two checks.
        newton_steps: float64 Newton steps after Adam (0: none). With Newton, Adam stops once
            every point is below ``max(tol_q, newton_from_q)`` and Newton finishes the job.
        outlier_scale: drop points farther from the initial states' centroid than this many times
            their mean distance to it (None: keep all).
        dedup_distance: merge points closer than this (L2 over state and input), keeping the lowest q.
        progress: show a progress bar.

    Returns:
        :class:`FixedPoints` of the converged points (float64 when Newton ran), with the others in
        ``.slow_points``. For an ensemble: a list of them, one per member (all members are
        optimised together along the E axis).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor (the held input), got {type(x).__name__}")
    if not isinstance(initial_states, torch.Tensor) or initial_states.shape[-1:] != (cell.state_size,):
        raise ValueError(f"initial_states must be a tensor (N, {cell.state_size}), got "
                         f"{getattr(initial_states, 'shape', type(initial_states).__name__)}")
    for name, val in (("max_iter", max_iter), ("check_every", check_every)):
        check_int(name, val)
    if not tol_q > 0:
        raise ValueError(f"tol_q must be > 0, got {tol_q!r}")
    E = ensemble_size(cell)
    device, dtype = cell_device_dtype(cell)
    s0 = initial_states.detach().to(device=device, dtype=dtype)
    if E is None and s0.dim() != 2:
        raise ValueError(f"initial_states must have shape (N, {cell.state_size}), got {tuple(s0.shape)}")
    if E is not None:
        if s0.dim() == 2:
            s0 = s0.expand(E, *s0.shape)
        if s0.dim() != 3 or s0.shape[0] != E:
            raise ValueError(f"initial_states must have shape (N, S) or (E={E}, N, S), got {tuple(s0.shape)}")
    xs = held_input(x.detach().to(device=device, dtype=dtype), s0.shape[:-1], cell.input_size)

    start = time.perf_counter()
    adam_tol = max(tol_q, newton_from_q) if newton_steps > 0 else tol_q
    s, q, iterations = _adam(cell, xs, s0, tol=adam_tol, max_iter=max_iter, lr=lr, betas=betas, eps=eps,
                             lr_decay=lr_decay, clip_norm=clip_norm, check_every=check_every,
                             stall_rtol=stall_rtol, progress=progress)
    adam_seconds = time.perf_counter() - start  # _adam ends on a read-back, so the device is done
    work = cell
    if newton_steps > 0:
        work = float64_copy(cell)
        xs = xs.double()
        s, q = _newton(work, xs, s.double(), q.double(), steps=newton_steps, tol=tol_q)
        with torch.no_grad():
            q = _speed(work, xs, s)
    J, K = state_and_input_jacobians(work, xs, s)
    seconds = time.perf_counter() - start

    info = {"iterations": iterations, "seconds": seconds, "adam_seconds": adam_seconds,
            "newton_steps": newton_steps, "dtype": str(s.dtype).replace("torch.", ""), "device": str(device)}
    groups = [slice(None)] if E is None else list(range(E))
    results = [_select(s[g], xs[g], q[g], J[g], K[g], s0[g].to(s.dtype), tol_q=tol_q, outlier_scale=outlier_scale,
                       dedup_distance=dedup_distance, info=info) for g in groups]
    return results[0] if E is None else results
