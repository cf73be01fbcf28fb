"""Fused Triton kernels for rnnviz cells (see docs/kernels.md).

Importing this package, or :mod:`rnnviz.kernels._dispatch` (which :mod:`rnnviz.cells` imports to
register the ``"triton"`` backend), does not need ``triton``: only the kernel modules (``_sru``,
``_dense``, ``_common``, ``_compile_check``) import it, and the backend loads them on first use, so
the reference cells work without triton installed.
"""
