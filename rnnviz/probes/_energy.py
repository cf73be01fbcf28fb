r"""Hopfield-style energy of a cell's candidate dynamics, for the symmetric part of its recurrent matrix.

For the damped map ``s' = (1 − α) ⊙ s + α ⊙ g(U s + I)`` with g = tanh (Hopfield 1984; Cohen &
Grossberg 1983), in state coordinates:

.. math::
    E(s; I) = -\tfrac12 s^\top U s - I^\top s + \sum_i G(s_i), \qquad
    G(v) = \int_0^v g^{-1} = \tfrac12[(1+v)\ln(1+v) + (1-v)\ln(1-v)]

(``G(v) = v²/2`` for g = identity and for relu on v ≥ 0). If U is symmetric and
``U + diag(2/α − 1)`` is positive definite, E strictly decreases on every step that moves
(``E(s') − E(s) ≤ −Δᵀ[½U + diag(1/α − ½)]Δ``, Δ = s' − s). Trained cells do not have a symmetric U,
so rnnviz evaluates ``E_S``: E with the symmetric part ``S = (U + Uᵀ)/2`` in place of
U, and measures how well it describes the real dynamics (:func:`energy_diagnostics`).

Which matrix plays U, which term the external current I, and which gate the step size α, per cell
(:func:`hopfield_reading`):

=============  ==================  ==================================  ==============  =========
cell           U                   I (external current)                α (step size)   exact?
=============  ==================  ==================================  ==============  =========
rnn            W_hh                W_ih x + b_ih + b_hh                1               yes
gru            W_hn                W_in x + b_in + b_hn (IRC: x + …)   1 − z           if r = 1
pru            U_u (candidate)     W_u x + b_iu + b_hu                 1 − c           yes
lstm           W_hg, on h          W_ig x + b_ig + b_hg (IRC: x + …)   i (input gate)  no
sru            0 (g = identity)    x̃ = W_x̃ x, on c (IRC: x)           1 − f           yes
trnn           0 (g = identity)    W x (IRC: x)                        1 − f           yes
fastgrnn       W_hh                W x + b_h                           1 − z           if σ(ζ)=1, σ(ν)=0
=============  ==================  ==================================  ==============  =========

"exact" means that a step of the cell *is* the damped map above with α set to that step's gate values
(the gates are computed from s_t before the step, so they are constants within it). The descent bound
is per step, so an update gate that depends on the state and the input does not break it: E(·; I)
decreases on every step whose α satisfies the condition, for symmetric U. What does break it: an
asymmetric U (trained cells), the GRU's reset gate (r ≠ 1 rescales the recurrent term), the LSTM's
structure, FastGRNN's extra leak, and an input that changes over time (each step has its own
landscape E(·; I_t)); :func:`energy_diagnostics` measures by how much.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ._jacobians import ensemble_size
from ._trajectories import Trajectories

_NONLINEARITIES = ("tanh", "identity", "relu")


@dataclass(frozen=True, eq=False)  # tensor fields: compare readings by identity
class HopfieldReading:
    """How a cell maps onto ``s' = (1 − α) s + α g(U s + I)`` (see the table in this module).

    Attributes:
        kind: the cell's registry name.
        U: ``(n, n)`` the recurrent matrix of the candidate.
        nonlinearity: g, "tanh", "identity" or "relu".
        coords: the slice of the flat state that is the Hopfield variable (LSTM: h, the first n).
        exact: whether, with the gates frozen, a step of the cell is exactly the damped map.
        description: one paragraph saying what plays U, I and α, and what breaks the analogy.
    """

    kind: str
    U: torch.Tensor
    nonlinearity: str
    coords: slice
    exact: bool
    description: str
    current_fn: Callable[[torch.Tensor], torch.Tensor]
    rate_fn: Callable[[dict], torch.Tensor | None]

    @property
    def symmetric(self) -> torch.Tensor:
        """S = (U + Uᵀ)/2."""
        return 0.5 * (self.U + self.U.T)

    @property
    def asymmetry(self) -> float:
        """‖A‖_F / ‖U‖_F with A = (U − Uᵀ)/2 (0 for symmetric U; 0 when U = 0)."""
        norm = self.U.norm()
        return float(0.5 * (self.U - self.U.T).norm() / norm) if norm > 0 else 0.0

    def current(self, x: torch.Tensor) -> torch.Tensor:
        """External current I ``(…, n)`` for inputs x ``(…, m)``."""
        return self.current_fn(x)

    def rate(self, gates: dict) -> torch.Tensor | None:
        """Step sizes α ``(…, n)`` from a trace's gates (None where α ≡ 1)."""
        return self.rate_fn(gates)


def hopfield_reading(cell) -> HopfieldReading:
    """The Hopfield reading of a single rnnviz cell: U, the current I(x), α and g (module table)."""
    if ensemble_size(cell) is not None:
        raise ValueError("hopfield_reading needs a single cell; for an ensemble use cell.member(i)")
    kind = getattr(cell, "kind", None)
    base = getattr(cell, "base_kind", kind)
    n = cell.hidden_size
    whole = slice(0, n)
    p = cell._project_input
    layout = getattr(cell, "gate_layout", None)  # where the candidate sits, declared by the cell class
    cand = layout.rows("candidate", n) if layout is not None and layout.has("candidate") else None
    if base == "rnn":
        nl = cell.nonlinearity
        return HopfieldReading(kind, cell.weight_hh.detach(), nl, whole, True,
                               "Elman RNN: U = W_hh, I = W_ih x + b_ih + b_hh, α = 1 (no gates). "
                               f"g = {nl}; the step is exactly the Hopfield map, so E_S descends whenever "
                               "W_hh is symmetric with λ_min(W_hh) > −1.",
                               lambda x: p(x) + cell.bias_hh, lambda g: None)
    if base == "gru":
        return HopfieldReading(kind, cell.weight_hh[cand].detach(), "tanh", whole, False,
                               "GRU read with the reset gate at r = 1: U = W_hn, I = W_in x + b_in + b_hn "
                               "(IRC: x + b_in + b_hn), α = 1 − z. With r = 1 and z frozen a step is exactly "
                               "the damped Hopfield map; a trained GRU's r ≠ 1 scales the recurrent term "
                               "(r ⊙ (W_hn h + b_hn)), and z, r depend on h and x.",
                               lambda x: layout.part(p(x), "candidate") + cell.bias_hh[cand],
                               lambda g: 1 - g["update"])
    if base == "pru":
        return HopfieldReading(kind, cell.weight_hh[cand].detach(), "tanh", whole, True,
                               "PRU: U = U_u (candidate block of weight_hh), I = W_u x + b_iu + b_hu, "
                               "α = 1 − c. With c frozen a step is exactly the damped Hopfield map; the "
                               "real c depends on s and x.",
                               lambda x: layout.part(p(x), "candidate") + cell.bias_hh[cand],
                               lambda g: 1 - g["update"])
    if base == "lstm":
        return HopfieldReading(kind, cell.weight_hh[cand].detach(), "tanh", layout.state_rows("h", n), False,
                               "LSTM, Hopfield variable h (first half of [h; c]): U = W_hg, "
                               "I = W_ig x + b_ig + b_hg (IRC/IHC: x + b_ig + b_hg), α = i (input gate). "
                               "The candidate g = tanh(W_hg h + I) is the Hopfield update, but h is reached "
                               "through c' = f c + i g and h' = o tanh(c') (plus (1 − o) x with IHC), so no "
                               "setting of the gates makes a step the damped map: the diagnostics are "
                               "purely empirical.",
                               lambda x: layout.part(p(x), "candidate") + cell.bias_hh[cand],
                               lambda g: g["input"])
    if base in ("sru", "trnn"):
        name = "SRU" if base == "sru" else "T-RNN"
        zero = torch.zeros(n, n, dtype=cell.bias.dtype, device=cell.bias.device)
        irc = getattr(cell, "irc", False)
        return HopfieldReading(kind, zero, "identity", whole, True,
                               f"{name}: no matrix acts on the state, so U = 0 and g = identity; I = the "
                               f"candidate {'x (IRC)' if irc else 'W x (first block of weight)'}, "
                               "α = 1 − f. E = ½‖s‖² − Iᵀs is a convex quadratic and a step with f frozen "
                               "moves straight down its gradient: E never increases for f ∈ [0, 1).",
                               (lambda x: x) if cand is None else (lambda x: layout.part(p(x), "candidate")),
                               lambda g: 1 - g["forget"])
    if base == "fastgrnn":
        return HopfieldReading(kind, cell.weight_hh.detach(), "tanh", whole, False,
                               "FastGRNN: U = W_hh (shared by gate and candidate), I = W x + b_h, α = 1 − z. "
                               "The update h' = z h + (σ(ζ)(1 − z) + σ(ν)) h̃ is the damped map only when "
                               "σ(ζ) = 1 and σ(ν) = 0; z shares the candidate's pre-activation.",
                               lambda x: p(x) + cell.bias_h, lambda g: 1 - g["update"])
    raise ValueError(f"cell must be an rnnviz cell (kind one of rnn, gru, pru, lstm, sru, trnn, fastgrnn and "
                     f"their irc/ihc variants), got kind={kind!r}")


# ---------------------------------------------------------------------- the energy itself
def _potential(v: torch.Tensor, nonlinearity: str) -> torch.Tensor:
    """G(v) = ∫₀^v g⁻¹, elementwise; +inf outside g's range."""
    if nonlinearity == "tanh":
        g = 0.5 * (torch.special.xlogy(1 + v, 1 + v) + torch.special.xlogy(1 - v, 1 - v))
        return torch.where(v.abs() <= 1, g, torch.inf)
    if nonlinearity == "relu":
        return torch.where(v >= 0, 0.5 * v * v, torch.inf)
    return 0.5 * v * v


def _potential_grad(v: torch.Tensor, nonlinearity: str) -> torch.Tensor:
    """g⁻¹(v) (G'), elementwise."""
    return torch.atanh(v) if nonlinearity == "tanh" else v


def hopfield_energy(s: torch.Tensor, U: torch.Tensor, current: torch.Tensor,
                    nonlinearity: str = "tanh") -> torch.Tensor:
    """``E(s; I) = −½ sᵀ S s − Iᵀ s + Σ G(s_i)`` with S = (U + Uᵀ)/2.

    Args: s ``(…, n)``; U ``(n, n)``; current I ``(…, n)`` (broadcast against s); nonlinearity g.
    Returns: ``(…)``; +inf where s leaves g's range (|s| > 1 for tanh, s < 0 for relu).
    """
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {_NONLINEARITIES}, got {nonlinearity!r}")
    S = 0.5 * (U + U.T)
    quad = (s @ S * s).sum(-1)
    return -0.5 * quad - (current * s).sum(-1) + _potential(s, nonlinearity).sum(-1)


def hopfield_energy_gradient(s: torch.Tensor, U: torch.Tensor, current: torch.Tensor,
                             nonlinearity: str = "tanh") -> torch.Tensor:
    """``∇E(s; I) = g⁻¹(s) − S s − I`` ``(…, n)`` with S = (U + Uᵀ)/2."""
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {_NONLINEARITIES}, got {nonlinearity!r}")
    S = 0.5 * (U + U.T)
    return _potential_grad(s, nonlinearity) - s @ S - current


def _check_state_input(cell, s, x) -> None:
    """States ``(…, S)`` and inputs ``(…, m)`` of this cell (S = ``state_size``, m = ``input_size``)."""
    for name, t, size, what in (("s", s, cell.state_size, "state_size"), ("x", x, cell.input_size, "input_size")):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() == 0 or t.shape[-1] != size:
            raise ValueError(f"{name} must have {what}={size} features on its last axis, got shape {tuple(t.shape)}")


def energy(cell, s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """E_S of a single cell at flat states s ``(…, S)`` under inputs x ``(…, m)`` (its Hopfield reading).

    A state whose last axis is not the cell's ``state_size`` (or an input that is not ``input_size``
    wide) is refused with a ValueError rather than read in part."""
    r = hopfield_reading(cell)
    _check_state_input(cell, s, x)
    return hopfield_energy(s[..., r.coords], r.U, r.current(x), r.nonlinearity)


def energy_gradient(cell, s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """∇E_S ``(…, n)`` in the Hopfield coordinates (``reading.coords`` of the flat state); s and x as
    :func:`energy`."""
    r = hopfield_reading(cell)
    _check_state_input(cell, s, x)
    return hopfield_energy_gradient(s[..., r.coords], r.U, r.current(x), r.nonlinearity)


def descent_condition(U: torch.Tensor, rate: torch.Tensor | None) -> torch.Tensor:
    """λ_min(S + diag(2/α − 1)) ``(…)`` for step sizes α ``(…, n)`` (α ≡ 1 when None).

    Positive: with S in place of U and α frozen, every step that moves strictly lowers E_S.
    """
    S = 0.5 * (U + U.T)
    if rate is None:  # α = 1: λ_min(S + I)
        return torch.linalg.eigvalsh(S)[0] + 1.0
    diag = torch.diag_embed(2.0 / rate.clamp_min(torch.finfo(rate.dtype).tiny) - 1.0)  # (…, n, n)
    return torch.linalg.eigvalsh(S + diag)[..., 0]


# ---------------------------------------------------------------------- diagnostics
@dataclass(frozen=True, eq=False)
class EnergyDiagnostics:
    """How well E_S describes a cell's real dynamics along a trace (T steps, B sequences).

    Attributes:
        reading: the cell's :class:`HopfieldReading`.
        asymmetry: ‖A‖/‖U‖.
        energy_before: ``(T, B)`` E_S(s_t; I_t).
        energy_after: ``(T, B)`` E_S(s_{t+1}; I_t) (the current held within the step).
        cosine: ``(T, B)`` cosine between −∇E_S(s_t; I_t) and Δs_t (NaN where Δs = 0).
        condition: ``(T, B)`` λ_min(S + diag(2/α_t − 1)); > 0 where the sufficient condition holds.

    :meth:`summary` gives the scalar diagnostics, :meth:`to_frame` one row per step and sequence.
    """

    reading: HopfieldReading
    asymmetry: float
    energy_before: torch.Tensor
    energy_after: torch.Tensor
    cosine: torch.Tensor
    condition: torch.Tensor

    @property
    def change(self) -> torch.Tensor:
        """``(T, B)`` E_S(s_{t+1}; I_t) − E_S(s_t; I_t)."""
        return self.energy_after - self.energy_before

    @property
    def fraction_decreasing(self) -> float:
        """Fraction of steps on which E_S did not increase (change ≤ 1e-12 relative to |E|)."""
        tol = 1e-12 * self.energy_before.abs().clamp_min(1.0)
        return float((self.change <= tol).double().mean())

    @property
    def mean_cosine(self) -> float:
        """Mean of ``cosine`` over the steps that moved."""
        return float(self.cosine.nanmean())

    @property
    def fraction_condition_holds(self) -> float:
        """Fraction of steps on which λ_min(S + diag(2/α − 1)) > 0."""
        return float((self.condition > 0).double().mean())

    def to_frame(self) -> pd.DataFrame:
        """One row per (step, sequence): ``step``, ``sequence``, ``energy_before``, ``energy_after``, ``change``,
        ``cosine``, ``condition``."""
        T, B = self.energy_before.shape
        step, sequence = np.indices((T, B)).reshape(2, -1)
        columns = {"energy_before": self.energy_before, "energy_after": self.energy_after, "change": self.change,
                   "cosine": self.cosine, "condition": self.condition}
        return pd.DataFrame({"step": step, "sequence": sequence,
                             **{k: v.detach().double().cpu().numpy().reshape(-1) for k, v in columns.items()}})

    def summary(self) -> dict:
        """The scalar diagnostics as a dict."""
        return {"kind": self.reading.kind, "asymmetry": self.asymmetry,
                "fraction_decreasing": self.fraction_decreasing, "mean_cosine": self.mean_cosine,
                "fraction_condition_holds": self.fraction_condition_holds, "exact": self.reading.exact}


def energy_diagnostics(cell, x: torch.Tensor, s0: torch.Tensor | None = None):
    """Evaluate E_S along the cell's real trajectories on inputs x.

    To test relaxation under a clamped input (probes.md step 3) pass a constant sequence, e.g.
    ``x_star.expand(T, B, m)``.

    Args:
        cell: a rnnviz cell; an ensemble is analysed member by member (``cell.member(i)``).
        x: ``(T, B, m)`` (ensembles ``(E, T, B, m)``).
        s0: initial states ``(B, S)`` (ensembles ``(E, B, S)``); zeros when None.

    Returns:
        :class:`EnergyDiagnostics`, or a list of them for an ensemble.
    """
    E = ensemble_size(cell)
    if E is not None:
        return [energy_diagnostics(cell.member(e), x[e], None if s0 is None else s0[e]) for e in range(E)]
    if x.dim() != 3:
        raise ValueError(f"x must have shape (T, B, input_size), got {tuple(x.shape)}")
    r = hopfield_reading(cell)
    with torch.no_grad():
        tr = cell.trace(x, s0)
        v = tr.states[..., r.coords]  # (T+1, B, n)
        current = r.current(tr.inputs)  # (T, B, n)
        before = hopfield_energy(v[:-1], r.U, current, r.nonlinearity)
        after = hopfield_energy(v[1:], r.U, current, r.nonlinearity)
        grad = hopfield_energy_gradient(v[:-1], r.U, current, r.nonlinearity)
        delta = v[1:] - v[:-1]
        cos = -(grad * delta).sum(-1) / (grad.norm(dim=-1) * delta.norm(dim=-1))
        cos = torch.where(delta.norm(dim=-1) > 0, cos, torch.nan)
        rate = r.rate(tr.gates)
        cond = descent_condition(r.U, rate)
        if rate is None:
            cond = cond.expand(before.shape)
    return EnergyDiagnostics(reading=r, asymmetry=r.asymmetry, energy_before=before, energy_after=after,
                             cosine=cos, condition=cond)


# ---------------------------------------------------------------------- landscape
@dataclass(frozen=True, eq=False)
class EnergyLandscape:
    """E_S on a grid over a plane ``s = mean + a·v₁ + b·v₂`` of the flat state space.

    Attributes:
        a: ``(R,)`` and b: ``(R,)`` grid coordinates along the plane's two directions.
        energy: ``(R, R)`` E_S at ``(b[i], a[j])`` (rows follow b, as ``imshow``/``contourf`` expect);
            +inf where the point leaves g's range (|s| > 1 for tanh).
        plane: the :class:`Trajectories` whose components span the plane.
        components: the two component indices used.

    :meth:`to_frame` gives one row per grid point.
    """

    a: torch.Tensor
    b: torch.Tensor
    energy: torch.Tensor
    plane: Trajectories
    components: tuple[int, int]

    def to_frame(self) -> pd.DataFrame:
        """One row per grid point: ``a``, ``b``, ``energy`` (R² rows, b-major like ``energy``)."""
        b, a = torch.meshgrid(self.b, self.a, indexing="ij")  # (R, R) each, rows follow b
        return pd.DataFrame({"a": a.reshape(-1).cpu().numpy(), "b": b.reshape(-1).cpu().numpy(),
                             "energy": self.energy.detach().double().cpu().numpy().reshape(-1)})


def energy_landscape(cell, x: torch.Tensor, plane: Trajectories, *, components=(0, 1), extent=None,
                     resolution: int = 101, margin: float = 0.1) -> EnergyLandscape:
    """E_S over a plane spanned by two principal components of visited states.

    Args:
        cell: a single rnnviz cell (for an ensemble pass ``cell.member(i)``).
        x: the held input ``(m,)`` that defines the current I.
        plane: a :class:`Trajectories` (from :func:`trajectories`) fitted on this cell's states.
        components: which two components span the plane.
        extent: ``(a_min, a_max, b_min, b_max)``; default: the projected trajectories ± ``margin``.
        resolution: R, grid points per axis.

    Returns:
        :class:`EnergyLandscape`.
    """
    if ensemble_size(cell) is not None:
        raise ValueError("energy_landscape needs a single cell; for an ensemble use cell.member(i)")
    i, j = components
    k = plane.n_components
    if not (0 <= i < k and 0 <= j < k and i != j):
        raise ValueError(f"components must be two different indices below n_components={k}, got {components!r}")
    if extent is None:
        pa, pb = plane.projected[..., i], plane.projected[..., j]
        wa, wb = float(pa.max() - pa.min()), float(pb.max() - pb.min())
        extent = (float(pa.min()) - margin * wa, float(pa.max()) + margin * wa,
                  float(pb.min()) - margin * wb, float(pb.max()) + margin * wb)
    a = torch.linspace(extent[0], extent[1], resolution, dtype=torch.float64)
    b = torch.linspace(extent[2], extent[3], resolution, dtype=torch.float64)
    coords = torch.zeros(resolution, resolution, k, dtype=torch.float64)
    coords[..., i] = a.view(1, -1)
    coords[..., j] = b.view(-1, 1)
    points = plane.reconstruct(coords)  # (R, R, S)
    r = hopfield_reading(cell)
    p = r.U
    with torch.no_grad():
        current = r.current(x.detach().to(p).reshape(1, -1)).reshape(-1).double()  # (n,)
        e = hopfield_energy(points[..., r.coords], r.U.double(), current, r.nonlinearity)
    e = torch.where(torch.isnan(e), torch.inf, e)
    return EnergyLandscape(a=a, b=b, energy=e, plane=plane, components=(i, j))
