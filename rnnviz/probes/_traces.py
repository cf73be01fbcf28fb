"""Reading states and gates out of a :class:`rnnviz.Trace` (or plain tensors), single or ensemble."""

from __future__ import annotations

import torch


def states_of(trace) -> torch.Tensor:
    """The states tensor of a Trace, or the tensor itself; checked to be a floating tensor."""
    states = getattr(trace, "states", trace)
    if not isinstance(states, torch.Tensor) or not states.is_floating_point():
        raise TypeError(f"trace must be a rnnviz.Trace or a floating-point tensor of states, "
                        f"got {type(trace).__name__}")
    return states


def gates_of(trace) -> dict[str, torch.Tensor]:
    """The gates dict of a Trace, or the dict itself."""
    gates = getattr(trace, "gates", trace)
    if not isinstance(gates, dict):
        raise TypeError(f"trace must be a rnnviz.Trace or a dict gate name → tensor, got {type(trace).__name__}")
    return gates


def flatten_points(states: torch.Tensor, lead: int) -> torch.Tensor:
    """``(*E, T+1, B, S)`` → ``(*E, (T+1)·B, S)``: keep ``lead`` leading axes, merge the others but the last."""
    return states.reshape(*states.shape[:lead], -1, states.shape[-1])
