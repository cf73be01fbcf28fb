"""Fused Triton kernels for recurrent cells (see docs/kernels.md): pure tensor functions that import
nothing from the rest of rnnviz.

Importing this package does not need ``triton``: only the kernel modules (``_sru``, ``_dense``,
``_common``) import it. The adapter from an rnnviz cell to these kernels, and the ``"triton"``
backend, live with the cells (:mod:`rnnviz.cells._triton`), which loads the kernels on first use, so
the reference cells work without triton installed.
"""
