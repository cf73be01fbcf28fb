"""The rnnviz look and the plumbing every figure shares: a style applied by a context manager, figure
sizes, palette, reproducible saving, the notebooks' :func:`saved_figure`, and :class:`Drawn`, the one
form in which every plot function returns what it drew (the rule: docs/api.md).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from .._files import write_atomically

# Okabe–Ito: distinguishable under the common colour-vision deficiencies.
PALETTE: tuple[str, ...] = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
)

# Widths in inches: a single column and the full text width of a two-column paper.
_WIDTHS = {"single": 3.4, "double": 7.0}

_BASE = {
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "legend.frameon": False,
    "image.cmap": "viridis",
    "pdf.fonttype": 42,  # TrueType: fonts embedded as editable text
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "savefig.bbox": "tight",
    "savefig.dpi": 200,
}

STYLES: dict[str, dict] = {
    "paper": {**_BASE, "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7,
              "xtick.labelsize": 7, "ytick.labelsize": 7, "lines.linewidth": 1.2, "lines.markersize": 3,
              "figure.figsize": (_WIDTHS["single"], _WIDTHS["single"] * 0.75)},
    "notebook": {**_BASE, "font.size": 11, "axes.titlesize": 12, "lines.linewidth": 1.8,
                 "figure.figsize": (7.0, 4.5)},
}


@contextlib.contextmanager
def style(name: str = "paper") -> Iterator[None]:
    """Apply an rnnviz style inside a ``with`` block; matplotlib's settings are restored after it.

    ``"paper"``: small fonts sized for a single column, embedded TrueType fonts.
    ``"notebook"``: larger fonts for reading on screen.
    """
    if name not in STYLES:
        raise ValueError(f"name must be one of {list(STYLES)}, got {name!r}")
    # rc_context restores every setting on exit, "interactive" included; a notebook backend that turns
    # interactive mode on while the block runs (on its first figure) must keep it, or later figures
    # are never shown.
    interactive = {}
    with mpl.rc_context(STYLES[name]):
        try:
            yield
        finally:
            interactive["value"] = mpl.rcParams["interactive"]
    mpl.rcParams["interactive"] = interactive["value"]


def figsize(width: str = "single", aspect: float = 0.75) -> tuple[float, float]:
    """(width, height) in inches for a ``"single"`` or ``"double"`` column figure; height = width·aspect."""
    if width not in _WIDTHS:
        raise ValueError(f"width must be one of {list(_WIDTHS)}, got {width!r}")
    if not aspect > 0:
        raise ValueError(f"aspect must be positive, got {aspect!r}")
    w = _WIDTHS[width]
    return (w, w * aspect)


def save(fig, path, formats: Iterable[str] = ("pdf", "png")) -> list[Path]:
    """Save ``fig`` as ``path`` with each suffix in ``formats``; returns the written paths.

    Fonts: PDF, PS and EPS embed them as TrueType (fonttype 42); SVG keeps its text as editable
    ``<text>`` elements that name the font family (``svg.fonttype = "none"``), so the font is not
    embedded and the viewer must have it (or substitutes one).

    Reproducible bytes: metadata that changes between runs (creation date, software version) is
    dropped, SVG ids are hashed with a fixed salt, and while saving ``SOURCE_DATE_EPOCH`` is set to 0
    (unless already set) so that PS/EPS carry a fixed ``%%CreationDate``; the environment is
    restored afterwards. The same figure saved twice gives the same bytes in every format.

    Each file is written atomically (a temporary file beside it, then renamed): a reader, or a run
    interrupted while saving, never finds a partly written figure.

    The layout is computed once for all formats (:func:`_laid_out`): matplotlib's ``savefig`` would
    run the figure's layout engine and measure its tight bounding box again for each file, which took
    most of the time of saving a small figure in two formats.
    """
    path = Path(path)
    formats = list(formats)
    if not formats:
        raise ValueError("formats must name at least one format, e.g. ('pdf', 'png')")
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    stable_metadata = {
        "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
        "svg": {"Date": None, "Creator": None},
        "png": {"Software": None},
        "ps": {"Creator": "rnnviz"},  # instead of matplotlib's version
        "eps": {"Creator": "rnnviz"},
    }
    rc = {"pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none", "svg.hashsalt": "rnnviz"}
    with mpl.rc_context(rc), _source_date_epoch(), _laid_out(fig) as bbox:
        for fmt in formats:
            fmt = fmt.lstrip(".")
            out = path.with_suffix("." + fmt)
            # atomically: an interrupted save leaves the previous file (or none), never half a figure
            write_atomically(out, lambda f, fmt=fmt: fig.savefig(f, format=fmt, bbox_inches=bbox,
                                                                 metadata=stable_metadata.get(fmt)))
            written.append(out)
    return written


@contextlib.contextmanager
def _laid_out(fig: Figure) -> Iterator[Any]:
    """Inside the block ``fig`` keeps one layout: its layout engine (constrained, tight) has placed
    the axes once and is set aside, so that each ``savefig`` draws the figure once instead of running
    the engine again (twice a file); yields the ``bbox_inches`` each file is cropped to, ``savefig``'s
    ``"tight"`` box (with ``savefig.pad_inches``, or the constrained layout's own pads) measured once,
    when ``savefig.bbox`` is ``"tight"``, else that setting. The engine is restored after the block."""
    setting = mpl.rcParams["savefig.bbox"]
    engine = fig.get_layout_engine()
    dpi = mpl.rcParams["savefig.dpi"]
    shown_dpi = fig.dpi
    fig.dpi = shown_dpi if dpi == "figure" else dpi  # laid out at the raster files' resolution, as savefig did
    try:
        fig.draw_without_rendering()  # runs the engine: the axes take their places
        bbox = setting
        if setting == "tight":
            bbox = fig.get_tightbbox()  # with the figure's own renderer, whatever its canvas
            pad = mpl.rcParams["savefig.pad_inches"]
            h_pad = w_pad = pad if pad != "layout" else 0.0
            if isinstance(engine, ConstrainedLayoutEngine) and pad == "layout":
                h_pad, w_pad = engine.get()["h_pad"], engine.get()["w_pad"]
            bbox = bbox.padded(w_pad, h_pad)
    finally:
        fig.dpi = shown_dpi
    if engine is None:
        yield bbox
        return
    # no engine at all, not matplotlib's "none" placeholder: with any engine ``savefig`` first draws the
    # figure without rendering it (so that the engine runs), which costs as much as drawing it
    fig._layout_engine = None
    try:
        yield bbox
    finally:
        fig._layout_engine = engine


@contextlib.contextmanager
def _source_date_epoch() -> Iterator[None]:
    """Set SOURCE_DATE_EPOCH=0 inside the block unless it is set already; restore the environment after.

    matplotlib's PS/EPS writer stamps ``%%CreationDate`` with the current time otherwise.
    """
    if "SOURCE_DATE_EPOCH" in os.environ:
        yield
        return
    os.environ["SOURCE_DATE_EPOCH"] = "0"
    try:
        yield
    finally:
        os.environ.pop("SOURCE_DATE_EPOCH", None)


@contextlib.contextmanager
def saved_figure(path, *, nrows: int = 1, ncols: int = 1, figsize=None, projection: str | None = None,
                 squeeze: bool = True, style_name: str = "notebook", formats=("pdf", "png")) -> Iterator:
    """A figure for the notebooks: inside the ``with`` block the rnnviz ``style_name`` style is on and
    the block receives the Axes (one Axes, or an array for ``nrows``/``ncols`` > 1, always a 2-D array
    with ``squeeze=False``; ``projection="3d"`` for 3-D); on leaving, the figure is saved to ``path``
    in ``formats`` (:func:`save`).

    The figure stays open (the notebook shows it); ``path=None`` skips saving.
    """
    with style(style_name):
        fig = plt.figure(figsize=figsize, layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=squeeze,
                            subplot_kw=None if projection is None else {"projection": projection})
        yield axes
        if path is not None:
            save(fig, path, formats)


def shared_legend(axes, into, **legend_kwargs):
    """One legend for the panels ``axes`` (an Axes or an array of them): every labelled artist of every
    panel, one entry per label (its first artist, in panel order), so a panel that lacks a line adds
    nothing and none is repeated.

    ``into``: an Axes (one of ``axes``, or a spare panel, which is turned off: no frame, ticks or
    labels, only the legend; default ``loc="center"``), or the Figure (beside the panels, default
    ``loc="outside right center"``, room made by the constrained layout of :func:`saved_figure`).
    ``legend_kwargs`` go to ``legend`` (default ``frameon=False``). Returns the Legend; a ValueError
    when no panel has a labelled artist."""
    entries = {}
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    if not entries:
        raise ValueError("axes have no labelled artist to put in a legend (plot with label=..., or legend=False "
                         "plots that label their lines)")
    if isinstance(into, Figure):
        defaults = {"loc": "outside right center", "frameon": False}
    else:
        if into not in list(np.ravel(axes)):
            into.axis("off")
        defaults = {"loc": "center", "frameon": False}
    return into.legend(list(entries.values()), list(entries), **{**defaults, **legend_kwargs})


@dataclass(frozen=True, eq=False)
class Drawn(Mapping):
    """What a plot function drew: the panels it drew on and its artists by name.

    Attributes:
        axes: the panels drawn on, in the order the function documents (one for a single-panel plot).
            A colour bar is an artist of its panel, not a panel.
        artists: a read-only mapping from the names the function documents to an artist, a list of
            artists, or a dict item → artist (one artist per drawn item: a cell, a gate, a sequence's
            label). Every documented name is present; None or an empty list/dict where nothing was drawn.

    A ``Drawn`` is itself a read-only mapping over ``artists`` (``drawn["lines"]``, ``set(drawn)``);
    ``drawn.ax`` is the panel of a single-panel plot and ``drawn.figure`` the figure.
    """

    axes: tuple[Axes, ...]
    artists: Mapping[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "axes", tuple(self.axes))
        object.__setattr__(self, "artists", MappingProxyType(dict(self.artists)))
        if not self.axes:
            raise ValueError("axes must hold at least one Axes")

    def __getitem__(self, name: str):
        try:
            return self.artists[name]
        except KeyError:
            raise KeyError(f"{name!r} was not drawn; the artists are {list(self.artists)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.artists)

    def __len__(self) -> int:
        return len(self.artists)

    def __repr__(self) -> str:
        return f"Drawn(panels={len(self.axes)}, artists={list(self.artists)})"

    @property
    def ax(self) -> Axes:
        """The one panel of a single-panel plot (a ValueError for several: use ``axes``)."""
        if len(self.axes) != 1:
            raise ValueError(f"this plot drew {len(self.axes)} panels: use .axes")
        return self.axes[0]

    @property
    def figure(self):
        """The figure the panels belong to."""
        return self.axes[0].figure


def _axes(ax, *, three_d: bool = False) -> Axes:
    """The Axes a single-panel plot draws on: ``ax``, or a new figure's one Axes (3-D with ``three_d``),
    sized by the active style."""
    if ax is None:
        fig = plt.figure(layout="constrained")
        return fig.add_subplot(projection="3d" if three_d else None)
    if three_d and getattr(ax, "name", "") != "3d":
        raise ValueError("ax must be a 3-D Axes (projection='3d') to draw three components")
    return ax


def _panels(axes, n: int, create: Callable[[], Iterable[Axes]], what: str) -> list[Axes]:
    """The ``n`` Axes a multi-panel plot draws on: ``axes`` (a sequence or array of Axes; one Axes when
    ``n`` is 1), or ``create()`` when None. ``what`` says what the panels are, for the error."""
    panels = list(create()) if axes is None else (
        [axes] if isinstance(axes, Axes) else list(np.asarray(axes, dtype=object).flat))
    if len(panels) != n:
        raise ValueError(f"axes must hold {n} Axes ({what}), got {len(panels)}")
    return panels
