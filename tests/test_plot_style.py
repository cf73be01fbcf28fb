"""The package style: applied only inside its block, sizes, reproducible saving with embedded fonts."""

import matplotlib as mpl
import matplotlib.pyplot as plt
import pytest

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
