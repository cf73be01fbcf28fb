"""Thin ipywidgets builders: controls wired to the pure functions of this package and to rnnviz.plot.

ipywidgets (and ipympl, when present) are imported only when a builder is called, so ``import rnnviz``
and ``import rnnviz.widgets`` never need them. Each builder returns an :class:`Explorer`: its
``controls`` (name → widget; setting ``.value`` in plain Python recomputes and redraws), its
``figure``, the latest ``result`` of the pure function, and ``widget`` (the box to display; the
explorer also displays itself when it is the last expression of a notebook cell).
"""

from __future__ import annotations

from collections.abc import Callable

from matplotlib.figure import Figure


def _ipywidgets():
    try:
        import ipywidgets
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the rnnviz widgets need ipywidgets (and ipympl for live figures): "
                          "pip install 'rnnviz[notebooks]'") from exc
    return ipywidgets


def _canvas_widget(figure: Figure):
    """An ipympl canvas widget showing ``figure`` (outside pyplot, so it is never shown twice), or
    None when ipympl is not installed."""
    try:
        from ipympl.backend_nbagg import Canvas, FigureManager
    except ImportError:
        return None
    canvas = Canvas(figure)
    FigureManager(canvas, 0)
    canvas.header_visible = False
    canvas.toolbar_visible = False
    return canvas


class Explorer:
    """Controls wired to a compute function and a draw function.

    ``compute(**values) -> result`` is the pure function; ``draw(figure, result)`` redraws the
    figure from scratch. Setting any control's ``.value`` recomputes and redraws (``update``).
    """

    def __init__(self, controls: dict, compute: Callable, draw: Callable, figsize=(7.0, 5.0), title: str = ""):
        w = _ipywidgets()
        self.controls = dict(controls)
        self._compute, self._draw = compute, draw
        self.figure = Figure(figsize=figsize, layout="constrained")
        self.canvas = _canvas_widget(self.figure)
        self._output = None if self.canvas is not None else w.Output()
        self.result = None
        self.updates = 0
        for control in self.controls.values():
            control.observe(self.update, names="value")
        header = [w.HTML(f"<b>{title}</b>")] if title else []
        view = self.canvas if self.canvas is not None else self._output
        # wide controls in a column that does not shrink: ipywidgets' default 300 px clips long
        # descriptions and the sliders' readouts
        for control in self.controls.values():
            control.layout.width = control.layout.width or "360px"
        panel = w.VBox(list(self.controls.values()), layout=w.Layout(flex="0 0 auto"))
        # the figure moves below the controls when the notebook is too narrow for both side by side
        self.widget = w.VBox([*header, w.HBox([panel, view], layout=w.Layout(flex_flow="row wrap"))])
        self.update()

    @property
    def values(self) -> dict:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def update(self, change=None) -> None:
        """Recompute from the controls' values and redraw the figure."""
        self.result = self._compute(**self.values)
        self.figure.clear()
        self._draw(self.figure, self.result)
        self.updates += 1
        if self.canvas is not None:
            self.canvas.draw_idle()
        else:
            from IPython.display import clear_output, display

            with self._output:
                clear_output(wait=True)
                display(self.figure)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def cell_explorer(kind: str = "gru", *, inputs=(0.0, 0.0), weight_scale: float = 1.5, gate_biases=None,
                  symmetric: bool = True, steps: int = 40, resolution: int = 61) -> Explorer:
    """Sliders for the held input (2 numbers), the recurrent weight scale and each gate's bias of a
    2-unit ``kind`` cell (rnn, gru, pru, lstm), drawing its phase plane: E_S, trajectories from a
    ring of starts and the fixed points (:func:`rnnviz.widgets.phase_plane`,
    :func:`rnnviz.plot.plot_phase_plane`). Controls: ``input_1``, ``input_2``, ``weight_scale``,
    ``symmetric`` (symmetric recurrent blocks: the energy is exact for frozen gates) and ``bias_<gate>``
    per gate."""
    from ..plot import plot_phase_plane
    from ._phase_plane import default_gate_biases, phase_plane

    w = _ipywidgets()
    biases = {**default_gate_biases(kind), **(gate_biases or {})}
    slider = dict(continuous_update=False, readout_format=".2f", style={"description_width": "initial"})
    controls = {
        "input_1": w.FloatSlider(value=float(inputs[0]), min=-2.0, max=2.0, step=0.05, description="input x₁", **slider),
        "input_2": w.FloatSlider(value=float(inputs[1]), min=-2.0, max=2.0, step=0.05, description="input x₂", **slider),
        "weight_scale": w.FloatSlider(value=float(weight_scale), min=0.0, max=4.0, step=0.05,
                                      description="recurrent weight scale", **slider),
        "symmetric": w.Checkbox(value=bool(symmetric), description="symmetric recurrent weights"),
    }
    for gate, value in biases.items():
        controls[f"bias_{gate}"] = w.FloatSlider(value=float(value), min=-5.0, max=5.0, step=0.1,
                                                 description=f"{gate} gate bias", **slider)

    def compute(input_1, input_2, weight_scale, symmetric, **bias_values):
        gates = {name.removeprefix("bias_"): v for name, v in bias_values.items()}
        return phase_plane(kind, inputs=(input_1, input_2), weight_scale=weight_scale, gate_biases=gates,
                           symmetric=symmetric, steps=steps, resolution=resolution)

    def draw(figure, plane):
        plot_phase_plane(plane, ax=figure.add_subplot())

    return Explorer(controls, compute, draw, figsize=(6.0, 5.0), title=f"2-unit {kind} cell under a held input")


def model_explorer(recording, *, t: int = 0, unit: int = 0, sequence: int = 0) -> Explorer:
    """A time slider over a recorded sequence (:func:`rnnviz.widgets.record_model`) with the input
    symbol, the state in its first two principal components and the gates of a chosen unit
    (:func:`rnnviz.widgets.model_frame`, :func:`rnnviz.plot.plot_model_frame`).
    Controls: ``t``, ``unit``, ``sequence``."""
    from ..plot import plot_model_frame
    from ._model_view import model_frame

    w = _ipywidgets()
    controls = {
        "t": w.IntSlider(value=t, min=0, max=recording.length - 1, description="time step t"),
        "unit": w.IntSlider(value=unit, min=0, max=recording.hidden_size - 1, description="unit"),
        "sequence": w.IntSlider(value=sequence, min=0, max=recording.batch_size - 1, description="sequence"),
    }

    def compute(t, unit, sequence):
        return model_frame(recording, t, unit, sequence)

    def draw(figure, frame):
        grid = figure.add_gridspec(3, 1, height_ratios=[0.35, 2.2, 1.4])
        plot_model_frame(recording, frame, axes=[figure.add_subplot(grid[i]) for i in range(3)])

    return Explorer(controls, compute, draw, figsize=(7.0, 6.0), title="a trained model, step by step")


def capacity_explorer(rows, *, cell: str | None = None, interference: str | None = None,
                      metric: str = "capacity_bits") -> Explorer:
    """Drop-downs over a capacity sweep's rows: the cell, the interference setting and the summary
    metric (:func:`rnnviz.widgets.capacity_view`, :func:`rnnviz.plot.plot_capacity_view`).
    Controls: ``cell``, ``interference``, ``metric``."""
    from ..plot import plot_capacity_view
    from ._capacity_view import METRICS, capacity_options, capacity_view

    w = _ipywidgets()
    options = capacity_options(rows)
    controls = {
        "cell": w.Dropdown(options=options["cell"], value=cell or options["cell"][0], description="cell"),
        "interference": w.Dropdown(options=options["interference"],
                                   value=interference or options["interference"][0], description="interference"),
        "metric": w.Dropdown(options=[(label, key) for key, label in METRICS.items()], value=metric,
                             description="metric"),
    }

    def compute(cell, interference, metric):
        return capacity_view(rows, cell, interference, metric)

    def draw(figure, view):
        plot_capacity_view(view, axes=figure.subplots(1, 2))

    return Explorer(controls, compute, draw, figsize=(10.0, 3.8), title="memorization capacity")
