"""The package style: applied only inside its block, sizes, reproducible saving with embedded fonts."""

import os
import re
import time

import matplotlib as mpl
import matplotlib.pyplot as plt
import pytest
from matplotlib.layout_engine import ConstrainedLayoutEngine, TightLayoutEngine
from PIL import Image

from rnnviz import plot as rplot


def test_style_is_scoped_and_keeps_interactive_mode():
    before = mpl.rcParams["font.size"]
    with rplot.style("paper"):
        assert mpl.rcParams["font.size"] == 8
        assert mpl.rcParams["pdf.fonttype"] == 42
        mpl.rcParams["interactive"] = True  # what a notebook backend does on its first figure
    assert mpl.rcParams["font.size"] == before
    assert mpl.rcParams["interactive"] is True
    mpl.rcParams["interactive"] = False
    with pytest.raises(ValueError, match="name must be one of"):
        with rplot.style("poster"):
            pass


def test_figsize():
    assert rplot.figsize("double", 0.5) == (7.0, 3.5)
    with pytest.raises(ValueError, match="width must be one of"):
        rplot.figsize("triple")


def test_save_is_reproducible_and_embeds_fonts(tmp_path):
    def draw():
        with rplot.style("paper"):
            fig, ax = plt.subplots(figsize=rplot.figsize())
            ax.plot([0, 1, 2], [1, 0, 1], label="a line")
            ax.set_title("reproducible")
            ax.legend()
        return fig

    first = rplot.save(draw(), tmp_path / "a" / "fig")
    second = rplot.save(draw(), tmp_path / "b" / "fig")
    assert [p.suffix for p in first] == [".pdf", ".png"]
    for p, q in zip(first, second, strict=True):
        assert p.read_bytes() == q.read_bytes(), f"{p.name} differs between two identical saves"
    pdf = first[0].read_bytes()
    assert b"/FontFile2" in pdf  # TrueType font program embedded (fonttype 42)
    plt.close("all")


@pytest.mark.parametrize("layout", ["constrained", "tight", None])
def test_save_lays_the_figure_out_once_and_leaves_it_as_it_was(tmp_path, monkeypatch, layout):
    """Three formats, one run of the layout engine (savefig alone runs it twice a file); afterwards the
    figure has its engine, its dpi and its size back, and is laid out again when drawn (a notebook
    shows it after saving). The files are cropped to one tight box: a PNG of 200 dpi is as many pixels
    as the PDF is points times 200/72."""
    runs = []
    for engine in (ConstrainedLayoutEngine, TightLayoutEngine):
        real = engine.execute
        monkeypatch.setattr(engine, "execute", lambda self, fig, real=real: runs.append(1) or real(self, fig))
    with rplot.style("paper"):
        fig, axes = plt.subplots(1, 2, figsize=rplot.figsize("double"), layout=layout)
        axes[0].plot([0, 1, 2], [1, 0, 1], label="a line")
        axes[1].set_ylabel("a long label that needs room")
        fig.colorbar(axes[1].imshow([[0, 1], [1, 0]]), ax=axes[1])
        engine, dpi, size = fig.get_layout_engine(), fig.dpi, tuple(fig.get_size_inches())
        pdf, png, svg = rplot.save(fig, tmp_path / "fig", formats=("pdf", "png", "svg"))
    assert len(runs) == (0 if layout is None else 1)
    assert fig.get_layout_engine() is engine and fig.dpi == dpi and tuple(fig.get_size_inches()) == size
    if layout is not None:
        fig.canvas.draw()
        assert len(runs) == 2
    box = [float(v) for v in re.search(rb"/MediaBox \[ *([\d. ]+)\]", pdf.read_bytes()).group(1).split()]
    width_pt, height_pt = box[2] - box[0], box[3] - box[1]
    with Image.open(png) as image:
        assert image.size == pytest.approx((width_pt * 200 / 72, height_pt * 200 / 72), abs=1.5)
    assert svg.stat().st_size > 0
    plt.close("all")


def test_save_ps_eps_svg_give_identical_bytes_and_restore_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)

    def draw():
        with rplot.style("paper"):
            fig, ax = plt.subplots(figsize=rplot.figsize())
            ax.plot([0, 1, 2], [1, 0, 1], label="a line")
            ax.set_xlabel("time")
            ax.legend()
        return fig

    formats = ("ps", "eps", "svg")
    first = rplot.save(draw(), tmp_path / "a" / "fig", formats=formats)
    time.sleep(1.1)  # the PS/EPS creation date has a resolution of one second
    second = rplot.save(draw(), tmp_path / "b" / "fig", formats=formats)
    for p, q in zip(first, second, strict=True):
        assert p.read_bytes() == q.read_bytes(), f"{p.name} differs between two identical saves"
    for p in first[:2]:
        head = p.read_bytes()[:400]
        assert b"%%CreationDate: Thu Jan 01 00:00:00 1970" in head and b"%%Creator: rnnviz" in head
    svg = first[2].read_text()
    assert "<text" in svg and "font-family" in svg and "time" in svg  # text kept editable, not paths
    assert "SOURCE_DATE_EPOCH" not in os.environ  # restored
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")  # a value the user set is respected and kept
    (third,) = rplot.save(draw(), tmp_path / "c" / "fig", formats=("eps",))
    assert b"%%CreationDate: Fri Jan 02 00:00:00 1970" in third.read_bytes()[:400]
    assert os.environ["SOURCE_DATE_EPOCH"] == "86400"
    plt.close("all")


def test_shared_legend_takes_each_label_once_from_every_panel():
    fig, axes = plt.subplots(1, 3)
    axes[0].plot([0, 1], label="a")
    axes[0].plot([1, 0], label="b")
    axes[1].plot([0, 1], label="a")  # repeated: its first artist stands for it
    axes[1].plot([0, 2], label="c")  # only in the second panel
    axes[1].plot([0, 3])  # unlabelled: left out
    legend = rplot.shared_legend(axes[:2], axes[2])
    assert [t.get_text() for t in legend.get_texts()] == ["a", "b", "c"]
    assert legend.legend_handles[0].get_color() == axes[0].lines[0].get_color()
    assert not axes[2].axison and axes[2].get_legend() is legend  # the spare panel holds the legend only
    assert axes[0].get_legend() is None and axes[1].get_legend() is None
    inside = rplot.shared_legend(axes[:2], axes[0], loc="upper left", frameon=True)  # one of the panels
    assert axes[0].axison and axes[0].get_legend() is inside and inside.get_frame_on()
    with pytest.raises(ValueError, match="no labelled artist"):
        rplot.shared_legend(plt.subplots()[1], axes[2])
    # beside the panels: a figure legend, outside them under the constrained layout
    with rplot.saved_figure(None, ncols=2, figsize=(6, 3)) as panels:
        panels[0].plot([0, 1], label="a")
        panels[1].plot([0, 1], label="b")
        beside = rplot.shared_legend(panels, panels[0].figure)
    assert beside in panels[0].figure.legends and [t.get_text() for t in beside.get_texts()] == ["a", "b"]
    panels[0].figure.canvas.draw()
    legend_box = beside.get_window_extent()
    assert all(legend_box.x0 >= ax.get_window_extent().x1 - 1 for ax in panels)  # right of every panel
    plt.close("all")


def test_save_works_whatever_the_figures_canvas(tmp_path):
    """A figure on a canvas without an Agg renderer of its own (an SVG canvas, as under
    MPLBACKEND=svg) is laid out and saved all the same."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    with rplot.style("paper"):
        fig, ax = plt.subplots(layout="constrained")
        ax.plot([0, 1], [1, 0])
        FigureCanvasSVG(fig)
        written = rplot.save(fig, tmp_path / "fig", formats=("png", "svg"))
    assert [p.suffix for p in written] == [".png", ".svg"] and all(p.stat().st_size > 0 for p in written)
    plt.close("all")
