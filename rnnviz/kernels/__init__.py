"""Fused Triton kernels for rnnviz cells (see docs/kernels.md).

Importing this package needs ``triton``; :mod:`rnnviz.cells` imports it lazily so that the reference
cells work without it.
"""
