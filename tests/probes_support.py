"""Shared helpers for the probe tests."""

import torch

from rnnviz import cells


def tanh_rnn(W, b=None, input_weight=0.0):
    """rnnviz RNN (float64) with recurrent weights W, input weights ``input_weight`` and bias b."""
    n = W.shape[0]
    cell = cells.RNN(1, n, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_hh.copy_(W)
        cell.weight_ih.fill_(input_weight)
        cell.bias_ih.copy_(torch.zeros(n) if b is None else b)
        cell.bias_hh.zero_()
    return cell
