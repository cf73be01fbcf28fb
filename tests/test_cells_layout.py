"""The gate layout each cell class declares (rnnviz.cells.GateLayout) matches the cell's parameters and
math, and is what the energy probe and the phase-plane explorer read."""

import pytest
import torch

from rnnviz import cells, probes, widgets
from rnnviz.cells import GateLayout


@pytest.mark.parametrize("name", cells.names())
def test_declared_layout_matches_the_packed_parameters(name):
    n = 5
    cell = cells.make(name, n, n, dtype=torch.float64)
    layout = cell.gate_layout
    x = torch.randn(3, 2, n, dtype=torch.float64)
    assert cell._project_input(x).shape[-1] == len(layout.blocks) * n  # one n-wide block each
    if hasattr(cell, "weight_hh") and name != "fastgrnn":
        assert cell.weight_hh.shape[0] == len(layout.blocks) * n
        assert cell.bias_hh.shape[0] == len(layout.blocks) * n
    assert len(layout.state) * n == cell.state_size
    own = set(layout.gate_blocks(cell.gate_names))
    shared = set(cell.gate_names) - own  # gates without a block of their own (FastGRNN's z)
    assert shared == ({"update"} if name == "fastgrnn" else set())


@pytest.mark.parametrize("name", ["gru", "lstm", "pru"])
def test_each_gate_block_drives_its_gate(name):
    """Setting one gate's bias block to +40 opens that gate fully, and only that gate."""
    n = 3
    cell = cells.make(name, n, n, dtype=torch.float64)
    x = torch.randn(4, 2, n, dtype=torch.float64)
    for gate in cell.gate_names:
        probe = cells.make(name, n, n, dtype=torch.float64)
        probe.load_state_dict(cell.state_dict())
        with torch.no_grad():
            probe.bias_hh[probe.gate_layout.rows(gate, n)] = 40.0
        traced = probe.trace(x).gates
        assert torch.allclose(traced[gate], torch.ones_like(traced[gate]))
        for other in set(cell.gate_names) - {gate}:
            assert not torch.allclose(traced[other], torch.ones_like(traced[other]))


def test_layout_helpers_and_errors():
    layout = GateLayout(("reset", "update", "candidate"))
    t = torch.arange(6.0)  # n = 2
    assert layout.part(t, "update").tolist() == [2.0, 3.0]
    assert layout.reorder(t, ("candidate", "reset", "update")).tolist() == [4.0, 5.0, 0.0, 1.0, 2.0, 3.0]
    assert layout.reorder(t, layout.blocks) is t
    assert GateLayout(("g",), state=("h", "c")).state_rows("c", 4) == slice(4, 8)
    with pytest.raises(ValueError, match="block must be one of"):
        layout.index("forget")
    with pytest.raises(ValueError, match="distinct"):
        GateLayout(("a", "a"))


@pytest.mark.parametrize("name", ["rnn", "gru", "pru", "lstm", "sru", "irc_sru", "trnn", "fastgrnn", "irc_gru"])
def test_energy_reading_takes_the_candidate_block(name):
    n = 4
    cell = cells.make(name, n, n, dtype=torch.float64)
    reading = probes.hopfield_reading(cell)
    layout = cell.gate_layout
    if layout.has("candidate") and hasattr(cell, "weight_hh"):
        assert torch.equal(reading.U, cell.weight_hh[layout.rows("candidate", n)])
    x = torch.randn(2, n, dtype=torch.float64)
    current = reading.current(x)
    assert current.shape == (2, n)


def test_explorer_biases_follow_the_declared_layout():
    for kind in widgets.EXPLORER_CELLS:
        cell = widgets.explorer_cell(kind, gate_biases={g: 1.5 for g in widgets.default_gate_biases(kind)})
        layout = cell.gate_layout
        for gate in widgets.default_gate_biases(kind):
            assert torch.all(cell.bias_hh[layout.rows(gate, 2)] == 1.5)
        assert torch.all(cell.bias_hh[layout.rows("candidate", 2)] == 0.0)
