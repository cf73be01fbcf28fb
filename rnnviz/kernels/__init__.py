"""Fused Triton kernels for recurrent cells (see docs/kernels.md): pure tensor functions that import
nothing from the rest of rnnviz.

Modules: ``_sru`` (SRU family: kernels, autograd Function and ``sru_recurrence``), ``_dense`` (dense
cells: ``dense_recurrence``, ``dense_recurrence_stepwise``, their autograd Functions, the kind
constants and launch configuration), ``_dense_kernels`` (the dense @triton.jit kernels),
``_dense_math`` (their pointwise cell updates) and ``_common`` (layout checks, padding, launch
options).

Importing this package does not need ``triton``: only the kernel modules import it. The adapter from
an rnnviz cell to these kernels, and the ``"triton"`` backend, live with the cells
(:mod:`rnnviz.cells._triton`), which loads the kernels on first use, so the reference cells work
without triton installed.
"""
