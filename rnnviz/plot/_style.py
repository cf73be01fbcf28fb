"""The rnnviz look: a style applied by a context manager, figure sizes, palette, reproducible saving."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import matplotlib as mpl

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
    with mpl.rc_context(rc), _source_date_epoch():
        for fmt in formats:
            out = path.with_suffix("." + fmt.lstrip("."))
            fig.savefig(out, format=fmt.lstrip("."), metadata=stable_metadata.get(fmt.lstrip(".")))
            written.append(out)
    return written


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
