"""CPU kernels for recurrent cells (see docs/kernels.md, "CPU kernels"): numba-compiled pointwise work,
torch's BLAS for the matrix products, one autograd Function per recurrence. Pure tensor functions that
import nothing from the rest of rnnviz.

Importing this package does not import numba; :func:`load` does (on first use), so that rnnviz
imports quickly and works without numba (the cells then run on the reference loop). The adapter
from a cell to these kernels, and the ``"cpu"`` backend, live with the cells (:mod:`rnnviz.cells._cpu`).

* :func:`rnnviz.kernels.cpu._dense.dense_recurrence`: GRU (and IRC-GRU), LSTM (IRC, IHC), PRU,
  Elman RNN (tanh, relu), FastGRNN;
* :func:`rnnviz.kernels.cpu._sru.sru_recurrence`: SRU v1/v2, IRC-SRU, T-RNN, IRC-T-RNN;
* :func:`rnnviz.kernels.cpu._pointwise.tanh` (:func:`pointwise`): PRU's output map's tanh;
* :func:`rnnviz.kernels.cpu._loss.masked_cross_entropy` (:func:`loss`): the sequence tasks' masked
  cross-entropy and its gradient in one pass.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading

import torch

_lock = threading.Lock()
_state: dict = {}


def numba_installed() -> bool:
    """Whether the numba package is installed (without importing it)."""
    return importlib.util.find_spec("numba") is not None


def load():
    """Import the kernel modules (and numba) once; returns ``(dense_module, sru_module)``.

    Raises ImportError, with the reason, when numba is missing or cannot be imported; the failure is
    remembered, so later calls raise at once.
    """
    with _lock:
        if "modules" not in _state and "error" not in _state:
            try:
                dense = importlib.import_module(".cpu._dense", "rnnviz.kernels")
                sru = importlib.import_module(".cpu._sru", "rnnviz.kernels")
                _state["pointwise"] = importlib.import_module(".cpu._pointwise", "rnnviz.kernels")
                _state["loss"] = importlib.import_module(".cpu._loss", "rnnviz.kernels")
                _state["modules"] = (dense, sru)
            except Exception as exc:  # numba missing, or broken (e.g. an incompatible numpy)
                _state["error"] = f"{type(exc).__name__}: {exc}"
        if "error" in _state:
            raise ImportError(f"the CPU kernels need numba (pip install numba): {_state['error']}")
        return _state["modules"]


def pointwise():
    """The elementwise kernels (:mod:`rnnviz.kernels.cpu._pointwise`), loaded as :func:`load` does
    (ImportError likewise)."""
    load()
    return _state["pointwise"]


def loss():
    """The fused loss kernel (:mod:`rnnviz.kernels.cpu._loss`), loaded as :func:`load` does."""
    load()
    return _state["loss"]


def transforms_active() -> bool:
    """Whether a torch.func transform (vmap, grad, jacrev, …) is running, or CPU autocast is on: the
    kernels' autograd Functions support neither."""
    try:
        if torch._C._are_functorch_transforms_active():
            return True
    except AttributeError:  # pragma: no cover - older torch
        pass
    try:
        return bool(torch.is_autocast_enabled("cpu"))
    except TypeError:  # pragma: no cover - torch without the device argument
        return bool(torch.is_autocast_cpu_enabled())


#: The environment variable that pins a backend for every cell (e.g. ``reference``); "auto" when unset.
BACKEND_VARIABLE = "RNNVIZ_BACKEND"


def pinned_backend() -> str:
    """The backend :data:`BACKEND_VARIABLE` pins, as written ("auto" when unset); the cells' dispatch
    (:func:`rnnviz.cells._backends.resolve_backend`) checks the name, the fused loss reads "reference"."""
    return os.environ.get(BACKEND_VARIABLE, "auto")


def fused_loss_for(logits: torch.Tensor):
    """The fused cross-entropy kernel module when it can take ``logits`` here, else None: a float32 or
    float64 CPU tensor, numba importable, no torch.func transform or autocast active, and the
    environment variable ``RNNVIZ_BACKEND`` not pinning the reference (which keeps every computation
    on plain torch ops, double backward included). Called for every loss: a missing numba is found
    once, by :func:`load`, which remembers it."""
    if (logits.device.type != "cpu" or logits.dtype not in (torch.float32, torch.float64)
            or pinned_backend() == "reference" or transforms_active()):
        return None
    try:
        return loss()
    except ImportError:
        return None
