"""The "cpu" backend of rnnviz cells: the adapter from a cell to the numba kernels of
:mod:`rnnviz.kernels.cpu`, and when ``backend="auto"`` picks it.

Every cell family runs here, single models and ensembles, float32 and float64:

* dense cells (pru, gru, irc_gru, lstm, irc_lstm, ihc_lstm, rnn, fastgrnn): the cell's own input
  projection (one GEMM for all steps; an ensemble reading its inputs through a narrower input map, a
  SequenceModel's embedding, folds the map into it: :mod:`rnnviz.cells._input_map`), then the recurrence: one numba kernel call for all steps that
  also does the recurrent products where they are small, else per step one BLAS call for the product
  and one kernel call for all the pointwise work, forward and backward; the output map (PRU) after. A plain
  single LSTM in float32 runs torch's own fused LSTM (``torch._VF.lstm``, oneDNN) where torch has it;
* SRU family (sru, irc_sru, trnn, irc_trnn): the input GEMM, then one numba kernel walks all steps.

Dispatch (docs/kernels.md, "CPU kernels"): ``backend="auto"`` picks "cpu" for a CPU tensor of dtype
float32 or float64 where it is faster (:func:`faster_than_reference`: T ≥ 2; IRC-T-RNN only for
small steps) and the kernels for that cell and dtype are ready, that is, numba imports and
they compiled (or loaded from numba's on-disk cache): :func:`ready` compiles them on the first
call and times it (:data:`COMPILE_SECONDS`). Otherwise "auto" runs the reference loop; when numba
is installed but fails to import or compile, it says so once with a RuntimeWarning. Also the
reference: while a ``torch.func`` transform (vmap, grad, jacrev) is active, since the kernels'
autograd Functions do not support them, and under CPU autocast. ``backend="cpu"`` forced raises a
ValueError naming the reason instead. The kernels give first-order gradients only
(``create_graph=True`` raises); use ``backend="reference"`` for double backward.

Threads: the kernels split their models between torch's threads plus any another process lends
this one (:func:`lend_threads`, which a study's worker pool calls: :mod:`rnnviz.study._workers`).
"""

from __future__ import annotations

import time
import warnings

import torch

from ..kernels.cpu._threads import lend_threads  # noqa: F401 (the study's workers reach the kernels through here)
from ._backends import register_backend
from ._input_map import folded_input_weight, folds_input_map
from ._layout import KERNEL_BLOCKS, member_params
from ._lengths import zero_past
from ._ops import linear, member_map, outputs_first

SRU_FAMILY = ("sru", "irc_sru", "trnn", "irc_trnn")
DENSE = ("pru", "gru", "irc_gru", "lstm", "irc_lstm", "ihc_lstm", "rnn", "fastgrnn")
SUPPORTED_DTYPES = (torch.float32, torch.float64)
# "auto" leaves single steps to the reference loop: its fixed cost (~50 µs) is below the kernels' (~130 µs)
MIN_AUTO_STEPS = 2
# IRC-T-RNN's step is two cheap elementwise ops on the reference loop, which stream memory as fast as the
# kernel once a step has this many (model, batch, unit) values (measured: 64·32·4 → 0.6×, 64·128 → 0.9×;
# 64·32 → 1.9×, 8·8 → 3.5×); "auto" keeps the reference there
IRC_TRNN_MAX_AUTO_UNITS = 4096

# seconds spent making each kernel ready (compiling, or loading numba's cache), by (kernel, dtype)
COMPILE_SECONDS: dict[tuple[str, str], float] = {}
_READY: dict[tuple[str, torch.dtype], str | None] = {}  # (kernel, dtype) -> None when ready, else why not


def kernel_name(cell) -> str:
    """The kernel that runs ``cell``: a dense kind of :mod:`rnnviz.kernels.cpu._dense` or "sru"."""
    if cell.kind in SRU_FAMILY:
        return "sru"
    if cell.base_kind == "rnn":
        return "rnn_tanh" if cell.nonlinearity == "tanh" else "rnn_relu"
    return cell.base_kind  # gru, lstm, pru, fastgrnn (IRC/IHC variants share their base's kernel)


def _load():
    from ..kernels import cpu

    return cpu.load()


def _pointwise():
    from ..kernels import cpu

    return cpu.pointwise()


def _transforms_active() -> bool:
    from ..kernels import cpu

    return cpu.transforms_active()


def uses_native_lstm(cell, x: torch.Tensor) -> bool:
    """Whether ``cell`` runs on torch's own fused LSTM (``torch._VF.lstm``, oneDNN on CPU): a plain
    single-model LSTM in float32 where torch has oneDNN. The same function as the reference loop and
    as ``torch.nn.LSTM`` (whose code it is), and on CPU as fast as anything here or faster at small
    sizes. Elsewhere (float64, no oneDNN, IRC/IHC, ensembles) the numba kernels run."""
    return (cell.kind == "lstm" and not cell.is_ensemble and x.dtype == torch.float32
            and torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled)


def unsupported_reason(cell, x: torch.Tensor) -> str | None:
    """Why the CPU backend cannot run ``cell`` on ``x`` (canonical layout), or None when it can
    (the kernels may still need compiling: see :func:`ready`)."""
    if cell.kind not in SRU_FAMILY + DENSE:
        return f"no CPU kernel for cell kind {cell.kind!r}; kernels exist for {list(SRU_FAMILY + DENSE)}"
    if x.device.type != "cpu":
        return f"x is on device {x.device}; the CPU backend needs CPU tensors"
    if x.dtype not in SUPPORTED_DTYPES:
        return (f"dtype {x.dtype} is not supported by the CPU kernels (expected float32 or float64); "
                f"use backend='reference' for {x.dtype}")
    if uses_native_lstm(cell, x):
        return None
    try:
        _load()
    except ImportError as exc:
        return str(exc)
    return None


def ready(cell, dtype: torch.dtype) -> str | None:
    """Make the kernels for ``cell`` and ``dtype`` ready (compile them, or load them from numba's cache,
    through one tiny forward and backward) the first time; returns None when they are, else why not.

    The time it takes is kept in :data:`COMPILE_SECONDS`. A failure (numba unable to compile here) is
    remembered, reported once with a RuntimeWarning, and "auto" then runs the reference loop.
    """
    name = kernel_name(cell)
    key = (name, dtype)
    if key not in _READY:
        t0 = time.perf_counter()
        try:
            _warm_up(name, dtype)
            _READY[key] = None
            COMPILE_SECONDS[(name, str(dtype).replace("torch.", ""))] = time.perf_counter() - t0
        except Exception as exc:  # numba's compile errors, or LLVM failing on this platform
            _READY[key] = f"the {name!r} CPU kernels failed to compile for {dtype}: {type(exc).__name__}: {exc}"
            warnings.warn(f"{_READY[key]}; backend='auto' runs the reference loop instead", RuntimeWarning,
                          stacklevel=3)
    return _READY[key]


def _warm_up(name: str, dtype: torch.dtype) -> None:
    """One forward and backward of the kernel on the smallest sizes: numba compiles (or loads) the
    same signatures (array ranks, dtype, contiguous layout) that real calls use. Runs with autograd on
    whatever the caller's mode (no_grad, inference_mode)."""
    dense, sru = _load()
    opts = {"dtype": dtype, "requires_grad": True}  # absent arrays are passed as empty ones of the same rank
    n = 1
    with torch.inference_mode(False), torch.enable_grad():
        if name == "sru":
            xp = torch.zeros(1, 1, 1, 3 * n, **opts)
            outs = sru.sru_recurrence(xp, torch.zeros(1, 1, 1, n, **opts), torch.zeros(1, 1, n, **opts),
                                      torch.zeros(1, 4, n, **opts), oc=0, of=n, orr=2 * n, oh=sru.SCALED_X,
                                      alpha=1.0)
        else:
            spec = dense.KINDS[name]
            P, S = spec.blocks * n, spec.state * n
            fast = name == "fastgrnn"
            outs = dense.dense_recurrence(
                name, torch.zeros(1, 1, 1, P, **opts), torch.zeros(1, P, n, **opts),
                None if fast else torch.zeros(1, spec.biases * n, **opts), torch.zeros(1, 1, S, **opts),
                x=torch.zeros(1, 1, 1, n, **opts) if name == "lstm" else None,
                par=torch.zeros(1, 2 * n + 2, **opts) if fast else None)
            if name == "pru":  # and its output map's tanh
                outs = (*outs, _pointwise().tanh(outs[0]))
        sum(o.sum() for o in outs).backward()


def auto_backend(cell, x: torch.Tensor) -> str:
    """What ``backend="auto"`` picks between this backend and the reference on CPU: "cpu" or "reference"."""
    return "cpu" if _auto_when(cell, x) else "reference"


def faster_than_reference(cell, x: torch.Tensor) -> bool:
    """Whether the CPU backend beats the reference loop for this cell and input shape (measured):
    T ≥ 2, and for IRC-T-RNN fewer than :data:`IRC_TRNN_MAX_AUTO_UNITS` values per step."""
    if x.shape[-3] < MIN_AUTO_STEPS:
        return False
    if cell.kind == "irc_trnn":
        models = cell.n_models or 1
        return models * x.shape[-2] * cell.hidden_size < IRC_TRNN_MAX_AUTO_UNITS
    return True


def _auto_when(cell, x: torch.Tensor) -> bool:
    if not faster_than_reference(cell, x) or unsupported_reason(cell, x) is not None or _transforms_active():
        return False
    return uses_native_lstm(cell, x) or ready(cell, x.dtype) is None


def cpu_forward(cell, x: torch.Tensor, s0: torch.Tensor, *, lengths: list[int] | None = None,
                input_map: torch.Tensor | None = None):
    """Backend ``"cpu"``: ``fn(cell, x, s0) -> (y, s_final)`` on the canonical layout.

    x ``(T, B, m)`` or ``(E, T, B, m)``; s0 ``(B, S)`` or ``(E, B, S)``; returns y ``(T, B, out)`` /
    ``(E, T, B, out)`` and the final flat state ``(B, S)`` / ``(E, B, S)``. ``lengths`` (an ensemble
    of dense cells, :func:`runs_lengths`): each model's sequence length; the kernels skip the padding.
    ``input_map`` W ``(E, m, k)`` (x then ``(E, T, B, k)``): the cell reads W x_t, folded into the
    input GEMM where :func:`~rnnviz.cells._input_map.folds_input_map` (elsewhere W x is computed first).
    """
    if input_map is not None and not folds_input_map(cell, x):
        x, input_map = member_map(x, input_map), None
    if lengths is not None and not runs_lengths(cell, x):
        raise ValueError(f"backend='cpu' runs per-model lengths for ensembles of dense cells only, not {cell.kind!r} "
                         f"with x of shape {tuple(x.shape)}")
    reason = unsupported_reason(cell, x)
    if reason is None and not uses_native_lstm(cell, x):
        reason = ready(cell, x.dtype)
    if reason is not None:
        raise ValueError(f"backend='cpu' cannot run {cell.kind!r}: {reason}")
    if uses_native_lstm(cell, x):
        return _native_lstm(cell, x, s0)
    single = not cell.is_ensemble
    xt = x.unsqueeze(1) if single else x.transpose(0, 1)  # (T, E, B, m)
    se = s0.unsqueeze(0) if single else s0  # (E, B, S)
    if cell.kind in SRU_FAMILY:
        h, s = _sru_family(cell, xt, _projection(cell, x if single else xt, single), se)
    else:
        h, s = _dense(cell, x if single else xt, xt, se, single, lengths, input_map)
    # the output map (PRU) is one GEMM over all steps, on the cell's time-major layout
    if single:
        return _readout(cell, h[:, 0]), s[0]
    y = _readout(cell, h).transpose(0, 1)
    if lengths is not None and cell.base_kind == "pru":  # its output map of a zero h is not zero
        y = zero_past(y, lengths)
    return y, s


def runs_lengths(cell, x: torch.Tensor) -> bool:
    """Whether backend "cpu" skips the padding of per-model lengths itself: an ensemble of dense cells
    (its kernels run each model over its own steps; the SRU family's run the whole padded sequence)."""
    return cell.is_ensemble and cell.kind not in SRU_FAMILY


def _readout(cell, h):
    """The cell's output map on all steps; PRU's tanh with the kernels' (torch's CPU tanh can be ~6x
    slower than its sigmoid: :mod:`rnnviz.kernels.cpu._pointwise`)."""
    if cell.base_kind == "pru":
        return cell._readout(h, tanh=_pointwise().tanh)
    return cell._readout(h)


def _projection(cell, x_time_major, single, *, bias=True):
    """The input GEMM for all steps, ``(T, E, B, P)``: the cell's own ``_project_input``, or (``bias``
    False, non-IRC torch-layout cells) the same product without ``bias_ih``, which the kernels add:
    a GEMM with a bias first copies the broadcast bias into its whole output."""
    if bias:
        xp = cell._project_input(x_time_major)
    else:
        xp = linear(x_time_major, cell.weight_ih)
    return xp.unsqueeze(1) if single else xp


def features_first_projection(weight: torch.Tensor, xt: torch.Tensor, residual: int | None = None) -> torch.Tensor:
    """``W x_t`` for every step and model, ``(E, P, m)``, ``(T, E, B, m) → (T, E, B, P)``: one batched GEMM
    :func:`~rnnviz.cells._ops.outputs_first` whose output ``(E, P, T·B)`` is the dense kernels'
    features-first layout, which they read without a copy.

    ``residual`` (IRC cells, m = n): the index of the block that is ``x_t`` itself; ``weight`` then holds
    the other blocks' rows, ``(E, P − m, m)``, and the result has all ``P`` (the product of
    :func:`~rnnviz.cells._ops.residual_projection` without its bias), built in the same layout by
    one copy (a concatenation of contiguous blocks)."""
    T, E, B, m = xt.shape
    rows = xt.transpose(0, 1).reshape(E, T * B, m)  # a view when xt is a view of a model-major (E, T, B, m)
    if residual is None:
        out = outputs_first(weight, rows)
    else:
        cut = residual * m
        parts = [outputs_first(weight[:, :cut], rows)] if cut else []
        parts.append(rows.transpose(1, 2))  # (E, m, T·B): the residual block
        if weight.shape[-2] > cut:
            parts.append(outputs_first(weight[:, cut:], rows))
        out = torch.cat(parts, dim=1)
    return out.view(E, out.shape[1], T, B).permute(2, 0, 3, 1)


def _native_lstm(cell, x, s0):
    """A plain single LSTM through ``torch._VF.lstm`` (the op behind ``torch.nn.LSTM``): x ``(T, B, m)``."""
    n = cell.hidden_size
    h0, c0 = s0[:, :n].unsqueeze(0).contiguous(), s0[:, n:].unsqueeze(0).contiguous()
    weights = [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
    y, h, c = torch._VF.lstm(x, (h0, c0), weights, True, 1, 0.0, torch.is_grad_enabled(), False, False)
    return y, torch.cat((h[0], c[0]), dim=-1)


def _dense(cell, x_time_major, xt, s0, single, lengths=None, input_map=None):
    """Dense cells: ``(T, E, B, ·)`` inputs → ``h (T, E, B, n)``, final state ``(E, B, S)``.

    For the cells laid out like torch.nn (GRU, LSTM, PRU, RNN), ``bias_ih`` goes to the kernels with
    ``bias_hh`` instead of into the input GEMM (GRU: the candidate's apart, as b_xn); an ensemble's
    IRC/IHC projection is built features first too (its residual block the input itself); a single
    IRC/IHC model keeps its own projection, ``bias_ih`` included. ``input_map`` (an ensemble that folds
    it: :mod:`rnnviz.cells._input_map`): xt holds k features and the input GEMM multiplies by ``W_ih W``."""
    dense, _ = _load()
    name = kernel_name(cell)
    if name == "fastgrnn":
        w_hh, bz, bh, zeta, nu = member_params(cell, "weight_hh", "bias_z", "bias_h", "zeta", "nu")
        par = torch.cat((bz, bh, zeta, nu), dim=-1)  # (E, 2n + 2)
        xp = _projection(cell, x_time_major, single)
        return dense.dense_recurrence(name, xp, w_hh, None, s0, par=par, lengths=lengths)
    # the blocks in the kernels' order, from the layout the cell declares (no copy when they agree)
    layout, order = cell.gate_layout, KERNEL_BLOCKS[cell.base_kind]
    w_hh, b_hh, b_ih = member_params(cell, "weight_hh", "bias_hh", "bias_ih")
    w_hh, b_hh, b_ih = layout.reorder(w_hh, order, dim=-2), layout.reorder(b_hh, order), layout.reorder(b_ih, order)
    own = cell.irc and single  # a single IRC / IHC model: the cell's own projection, b_ih included
    if single:  # rows (T, E, B, P); a single model's rows feed the next op (a Linear) as they are
        xp = layout.reorder(_projection(cell, x_time_major, single, bias=own), order)
    elif input_map is not None:  # an ensemble reading W x_t: one GEMM of k features, features first
        xp = features_first_projection(layout.reorder(folded_input_weight(cell, input_map), order, dim=-2), xt)
    elif cell.irc:  # an ensemble of IRC / IHC cells: features first, the candidate block x itself
        (w_ih,) = member_params(cell, "weight_ih")
        xp = layout.reorder(features_first_projection(w_ih, xt, residual=layout.index("candidate")), order)
    else:  # an ensemble: features first, all its products with wide outputs (outputs_first)
        (w_ih,) = member_params(cell, "weight_ih")
        xp = features_first_projection(layout.reorder(w_ih, order, dim=-2), xt)
    n = cell.hidden_size
    if name == "gru":
        b_xn = torch.zeros_like(b_hh[:, :n]) if own else b_ih[:, 2 * n:]
        b_rz = b_hh[:, :2 * n] if own else b_hh[:, :2 * n] + b_ih[:, :2 * n]
        bias = torch.cat((b_rz, b_hh[:, 2 * n:], b_xn), dim=-1)  # (E, 4n) = [b_r; b_z; b_hn; b_xn]
    else:
        bias = b_hh if own else b_hh + b_ih
    highway = None
    if getattr(cell, "ihc", False):  # IHC's highway reads the cell's inputs: W x_t with an input map
        highway = xt if input_map is None else features_first_projection(input_map, xt)
    return dense.dense_recurrence(name, xp, w_hh, bias, s0, x=highway, lengths=lengths)


def _sru_family(cell, xt, xp, c0):
    """SRU / IRC-SRU / T-RNN / IRC-T-RNN: ``(T, E, B, ·)`` inputs → ``h (T, E, B, n)``, final c ``(E, B, n)``.
    Where each block sits in ``xp`` comes from ``cell.gate_layout`` (no candidate block with IRC: x is it)."""
    _, sru = _load()
    n = cell.hidden_size
    layout = cell.gate_layout

    def offset(block: str) -> int:
        return layout.rows(block, n).start

    (bias,) = member_params(cell, "bias")
    zeros = bias.new_zeros(bias.shape[0], n)
    oc = offset("candidate") if layout.has("candidate") else sru.FROM_X
    of = offset("forget")
    if cell.base_kind == "trnn":
        par = torch.stack((bias, zeros, zeros, zeros), dim=1)  # (E, 4, n)
        return sru.sru_recurrence(xp, xt if cell.irc else None, c0, par, oc=oc, of=of, orr=sru.NO_RESET,
                                  oh=sru.NO_HIGHWAY)
    orr = offset("reset")
    if not cell.highway:
        oh = sru.NO_HIGHWAY
    else:
        oh = offset("projection") if layout.has("projection") else sru.SCALED_X
    if cell.weight_c is None:
        vf = vr = zeros
    else:
        (wc,) = member_params(cell, "weight_c")
        vf, vr = wc[:, :n], wc[:, n:]
    par = torch.stack((bias[:, :n], bias[:, n:], vf, vr), dim=1)  # (E, 4, n)
    needs_x = oc == sru.FROM_X or oh == sru.SCALED_X
    return sru.sru_recurrence(xp, xt if needs_x else None, c0, par, oc=oc, of=of, orr=orr, oh=oh,
                              alpha=cell.alpha)


register_backend("cpu", cpu_forward, auto_when=_auto_when, priority=5, lengths=runs_lengths,
                 input_map=folds_input_map)
