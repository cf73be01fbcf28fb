"""A cell reading its inputs through a linear map, ``cell(x, input_map=W)`` = ``cell(W x)``, with W folded
into the cell's input weights: what the fast backends (:mod:`rnnviz.cells._cpu`, :mod:`rnnviz.cells._triton`)
share.

A :class:`~rnnviz.train.SequenceModel` with an embedding ``W_e`` ``(E, m, k)`` (k input features, m the
cell's input size; the IRC/IHC cells always have one, m = n) passes it as its first cell's input map.
Computed as written, the input GEMM over all T·B rows costs ``m·k + P'·m`` multiply-adds a row
(``W_e x``, then the cell's P' input rows); folded, ``(W_ih W_e) x_t`` costs ``P·k`` (P = the cell's
blocks × n), with ``W_ih W_e`` formed once a call. An IRC/IHC cell's residual block (its input itself)
is ``W_e``'s own rows of the folded weight, so its projection is one GEMM, not two GEMMs and a
concatenation; IHC's highway reads ``W_e x_t``, one GEMM of ``m·k`` a row.
"""

from __future__ import annotations

import torch

from ._layout import member_params

#: Cells whose ensembles fold an input map: the dense cells with an input weight ``weight_ih`` (not
#: FastGRNN, whose gate and candidate share one input product).
FOLDABLE = ("pru", "gru", "irc_gru", "lstm", "irc_lstm", "ihc_lstm", "rnn")

# Below this many multiply-adds a row, the folded input GEMM (P·k) is folded whatever k: a product this
# small costs its calls, its narrow outputs and the copies it saves more than its arithmetic. Measured on
# CPU (9 models, 40 steps, batch 64, forward + backward, CPU time under load): IRC-GRU / IHC-LSTM reading
# 6 one-hot features at n = 2 and 4, 1.1-1.4x folded; reading 65 at n = 8 (P·k = 1,560 and 2,080), 1.5-1.8x
# folded (unfolded, the embedding is a GEMM with 8-wide outputs); at n = 16 and 32 (3,120 and more) even
# (benchmarks/README.md, eleventh sitting).
FOLD_SMALL_PRODUCT = 2048


def folds_input_map(cell, x: torch.Tensor) -> bool:
    """Whether a fast backend folds a cell's input map W ``(E, m, k)`` (``cell(x, input_map=W)``, x with k
    features) into the cell's input weights: an ensemble of :data:`FOLDABLE` cells with k ≤ m (then the
    fold never does more multiply-adds: P·k against m·k + P'·m) or with a small folded product (P·k at
    most :data:`FOLD_SMALL_PRODUCT` multiply-adds a row). (A capacity-study IHC-LSTM of n = 64 reading 7
    one-hot features: 4·64·7 instead of 64·7 + 3·64·64 multiply-adds a row.)"""
    if not (cell.is_ensemble and cell.kind in FOLDABLE):
        return False
    k, P = x.shape[-1], len(cell.gate_layout.blocks) * cell.hidden_size
    return k <= cell.input_size or P * k <= FOLD_SMALL_PRODUCT


def folded_input_weight(cell, input_map: torch.Tensor) -> torch.Tensor:
    """``W_ih W`` ``(E, P, k)``, an ensemble's input weights with its input map W ``(E, m, k)`` folded in,
    its blocks in the cell's own layout (``cell.gate_layout``); an IRC/IHC cell's residual block (its
    input itself) is W."""
    (w_ih,) = member_params(cell, "weight_ih")
    folded = torch.bmm(w_ih, input_map)
    if cell.irc:
        cut = cell.gate_layout.index("candidate") * cell.input_size
        folded = torch.cat((folded[:, :cut], input_map, folded[:, cut:]), dim=1)
    return folded
