"""Gate saturation (Karpathy, Johnson & Fei-Fei 2015): how often each gate unit sits near 0 or 1."""

from __future__ import annotations

import pandas as pd
import torch

from ._traces import gates_of


def gate_saturation(trace, low: float = 0.1, high: float = 0.9, *, ensemble: bool | None = None,
                    layer_names=None) -> pd.DataFrame:
    """Per gate and per unit, the fraction of steps left-saturated (< low) and right-saturated (> high).

    Args:
        trace: a :class:`rnnviz.Trace` (gates ``{name: (T, B, n)}`` or ``(T, n)``; ensembles ``(E, T, B, n)``), a
            dict of such gate tensors, or a list of them (one per layer).
        low, high: thresholds, ``0 ≤ low < high ≤ 1``.
        ensemble: whether gates carry a leading ensemble axis; by default, True for 4-D gates.
        layer_names: names for the layers when a list is given (default 0, 1, …).

    Returns:
        A tidy DataFrame with one row per (layer, member, gate, unit) and columns ``gate``, ``unit``,
        ``left``, ``right`` (fractions in [0, 1] over all T·B steps), plus ``layer`` for a list of traces
        and ``member`` for an ensemble. A cell without gates gives an empty frame with those columns.
    """
    if not (0 <= low < high <= 1):
        raise ValueError(f"low and high must satisfy 0 <= low < high <= 1, got low={low!r}, high={high!r}")
    if isinstance(trace, (list, tuple)):
        names = list(range(len(trace))) if layer_names is None else list(layer_names)
        if len(names) != len(trace):
            raise ValueError(f"layer_names has {len(names)} names for {len(trace)} layers")
        frames = [gate_saturation(t, low, high, ensemble=ensemble).assign(layer=name)
                  for name, t in zip(names, trace, strict=True)]
        frame = pd.concat(frames, ignore_index=True)
        return frame[["layer"] + [c for c in frame.columns if c != "layer"]]
    rows = []
    member_col = False
    for name, g in gates_of(trace).items():
        g = g.detach()
        is_ens = g.dim() == 4 if ensemble is None else ensemble
        if g.dim() == 2 and not is_ens:  # unbatched trace (T, n)
            g = g.unsqueeze(1)
        if g.dim() != (4 if is_ens else 3):
            raise ValueError(f"gate {name!r} must be (T, B, n) (ensembles: (E, T, B, n)), got {tuple(g.shape)}")
        g = g if is_ens else g.unsqueeze(0)  # (E, T, B, n)
        member_col |= is_ens
        left = (g < low).double().mean(dim=(1, 2))  # (E, n)
        right = (g > high).double().mean(dim=(1, 2))
        for e in range(g.shape[0]):
            frame = pd.DataFrame({"gate": name, "unit": range(g.shape[-1]),
                                  "left": left[e].cpu().numpy(), "right": right[e].cpu().numpy()})
            if is_ens:
                frame.insert(0, "member", e)
            rows.append(frame)
    columns = (["member"] if member_col else []) + ["gate", "unit", "left", "right"]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c in ("left", "right") else "object")
                             for c in columns})
    return pd.concat(rows, ignore_index=True)[columns]


def gate_values(trace, gate: str) -> torch.Tensor:
    """All activations of one gate, flattened ``(T·B·n,)`` (for histograms)."""
    gates = gates_of(trace)
    if gate not in gates:
        raise ValueError(f"gate must be one of {sorted(gates)}, got {gate!r}")
    return gates[gate].detach().reshape(-1)
