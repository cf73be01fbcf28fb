"""The reference cells: agreement with torch.nn, gradients, layouts, traces, parameter counts."""

import pytest
import torch
from torch import nn

import rnnviz
from rnnviz import cells

ALL = cells.names()
SQUARE = 5  # input_size == hidden_size, so IRC/IHC variants build


def _make(name, m=SQUARE, n=SQUARE, **kw):
    return cells.make(name, m, n, dtype=torch.float64, **kw)


@pytest.mark.parametrize("torch_cls, ours, kw", [
    (nn.GRU, cells.GRU, {}),
    (nn.LSTM, cells.LSTM, {}),
    (nn.RNN, cells.RNN, {"nonlinearity": "tanh"}),
    (nn.RNN, cells.RNN, {"nonlinearity": "relu"}),
])
@pytest.mark.parametrize("batch_first", [False, True])
def test_agrees_with_torch_nn(torch_cls, ours, kw, batch_first):
    ref = torch_cls(4, 6, batch_first=batch_first, dtype=torch.float64, **kw)
    cell = ours.from_torch(ref)
    assert cell.batch_first == batch_first
    B, T = 3, 7
    x = torch.randn((B, T, 4) if batch_first else (T, B, 4), dtype=torch.float64)
    h0 = torch.randn(1, B, 6, dtype=torch.float64)
    if torch_cls is nn.LSTM:
        c0 = torch.randn(1, B, 6, dtype=torch.float64)
        y_ref, (h, c) = ref(x, (h0, c0))
        s_ref = torch.cat([h[0], c[0]], dim=-1)
        s0 = torch.cat([h0[0], c0[0]], dim=-1)
    else:
        y_ref, h = ref(x, h0)
        s_ref, s0 = h[0], h0[0]
    y, s = cell(x, s0)
    torch.testing.assert_close(y, y_ref, atol=1e-10, rtol=0)
    torch.testing.assert_close(s, s_ref, atol=1e-10, rtol=0)


def test_from_torch_rejects_multilayer_and_wrong_type():
    with pytest.raises(ValueError, match="num_layers=2"):
        cells.GRU.from_torch(nn.GRU(3, 4, num_layers=2))
    with pytest.raises(ValueError, match="bidirectional"):
        cells.LSTM.from_torch(nn.LSTM(3, 4, bidirectional=True))
    with pytest.raises(TypeError, match="torch.nn.GRU"):
        cells.GRU.from_torch(nn.LSTM(3, 4))


@pytest.mark.parametrize("name", ALL)
def test_gradcheck_forward_and_step(name):
    size = 3  # gradcheck's cost grows with inputs × outputs: keep it small
    cell = _make(name, m=size, n=size)
    x = torch.randn(3, 2, size, dtype=torch.float64, requires_grad=True)
    s0 = (0.5 * torch.randn(2, cell.state_size, dtype=torch.float64)).requires_grad_()
    params = tuple(cell.parameters())

    def run(x, s0, *ps):
        y, s = torch.func.functional_call(cell, dict(zip([n for n, _ in cell.named_parameters()], ps,
                                                         strict=True)), (x, s0))
        return y, s

    assert torch.autograd.gradcheck(run, (x, s0, *params))
    assert torch.autograd.gradcheck(lambda x_t, s: cell.step(x_t, s), (x[0], s0))


@pytest.mark.parametrize("name", ALL)
def test_trace_equals_step_loop(name):
    cell = _make(name)
    x = torch.randn(6, 3, SQUARE, dtype=torch.float64)
    s0 = torch.randn(3, cell.state_size, dtype=torch.float64) * 0.3
    tr = cell.trace(x, s0)
    assert tr.states.shape == (7, 3, cell.state_size)
    assert tr.outputs.shape == (6, 3, cell.output_size)
    assert set(tr.gates) == set(cell.gate_names)
    for g in tr.gates.values():
        assert g.shape == (6, 3, cell.hidden_size)
        assert ((g > 0) & (g < 1)).all()
    s = s0
    torch.testing.assert_close(tr.states[0], s0)
    for t in range(6):
        s = cell.step(x[t], s)
        torch.testing.assert_close(tr.states[t + 1], s, atol=1e-12, rtol=0)
    y, s_final = cell(x, s0)
    torch.testing.assert_close(tr.outputs, y, atol=1e-12, rtol=0)
    torch.testing.assert_close(tr.final_state, s_final, atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", ALL)
def test_s0_continues_a_longer_sequence(name):
    cell = _make(name)
    x = torch.randn(9, 2, SQUARE, dtype=torch.float64)
    y_all, s_all = cell(x)
    y1, s1 = cell(x[:4])
    y2, s2 = cell(x[4:], s1)
    torch.testing.assert_close(torch.cat([y1, y2]), y_all, atol=1e-12, rtol=0)
    torch.testing.assert_close(s2, s_all, atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", ALL)
def test_layouts_batch_first_and_unbatched(name):
    cell = _make(name)
    cell_bf = _make(name, batch_first=True)
    cell_bf.load_state_dict(cell.state_dict())
    x = torch.randn(5, 3, SQUARE, dtype=torch.float64)
    y, s = cell(x)
    y_bf, s_bf = cell_bf(x.transpose(0, 1))
    torch.testing.assert_close(y_bf, y.transpose(0, 1))
    torch.testing.assert_close(s_bf, s)
    y_u, s_u = cell(x[:, 1])
    assert y_u.shape == (5, cell.output_size) and s_u.shape == (cell.state_size,)
    torch.testing.assert_close(y_u, y[:, 1])
    torch.testing.assert_close(s_u, s[1])
    torch.testing.assert_close(cell.step(x[0, 1], s[1]), cell.step(x[0], s)[1])
    tr = cell.trace(x[:, 1])
    assert tr.states.shape == (6, cell.state_size)


@pytest.mark.parametrize("name", ALL)
def test_ensemble_members_equal_single_cells(name):
    E = 3
    ens = _make(name, n_models=E)
    x = torch.randn(E, 4, 2, SQUARE, dtype=torch.float64)
    s0 = torch.randn(E, 2, ens.state_size, dtype=torch.float64) * 0.3
    y, s = ens(x, s0)
    assert y.shape == (E, 4, 2, ens.output_size) and s.shape == (E, 2, ens.state_size)
    tr = ens.trace(x, s0)
    assert tr.states.shape == (E, 5, 2, ens.state_size)
    singles = [ens.member(i) for i in range(E)]
    for i, single in enumerate(singles):
        assert single.n_models is None and single.kind == ens.kind
        y_i, s_i = single(x[i], s0[i])
        torch.testing.assert_close(y[i], y_i, atol=1e-12, rtol=0)
        torch.testing.assert_close(s[i], s_i, atol=1e-12, rtol=0)
        torch.testing.assert_close(ens.step(x[:, 0], s0)[i], single.step(x[i, 0], s0[i]))
        for g in ens.gate_names:
            torch.testing.assert_close(tr.gates[g][i], single.trace(x[i], s0[i]).gates[g])
    restacked = cells.Ensemble.stack(singles)
    y2, s2 = restacked(x, s0)
    torch.testing.assert_close(y2, y)
    assert rnnviz.count_parameters(ens) == rnnviz.count_parameters(singles[0])
    assert rnnviz.count_parameters(ens, total=True) == E * rnnviz.count_parameters(singles[0])


@pytest.mark.parametrize("name", ALL)
def test_seeded_construction_is_reproducible(name):
    torch.manual_seed(123)
    a = cells.make(name, SQUARE, SQUARE)
    torch.manual_seed(123)
    b = cells.make(name, SQUARE, SQUARE)
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert na == nb and torch.equal(pa, pb)


def _expected_count(name, m, n, **opts):
    """The parameter-count formulas of cells.md, with torch-style layouts' second bias vector per block."""
    torch_style = lambda blocks: blocks * (n * (m + n) + 2 * n)  # noqa: E731
    return {
        "rnn": torch_style(1),
        "pru": torch_style(2) + (n * n + n if opts.get("output_map", True) else 0),
        "gru": torch_style(3),
        "irc_gru": torch_style(3) - n * m,
        "lstm": torch_style(4),
        "irc_lstm": torch_style(4) - n * m,
        "ihc_lstm": torch_style(4) - n * m,
        "sru": (4 * m * n + 4 * n) if m != n else (3 * m * n + 4 * n),
        "irc_sru": 2 * m * n + 4 * n,
        "fastgrnn": n * (m + n) + 2 * n + 2,
        "trnn": 2 * m * n + n,
        "irc_trnn": m * n + n,
    }[name]


@pytest.mark.parametrize("name, m, n", [(name, 7, 7) for name in ALL]
                         + [(name, 3, 11) for name in ALL if not name.startswith(("irc_", "ihc_"))])
def test_parameter_counts_match_formulas(name, m, n):
    cell = cells.make(name, m, n)
    assert rnnviz.count_parameters(cell) == _expected_count(name, m, n)


def test_parameter_count_options():
    assert rnnviz.count_parameters(cells.PRU(4, 6, output_map=False)) == _expected_count("pru", 4, 6, output_map=False)
    # SRU v1 has no v_f, v_r; without the highway no projection is needed.
    assert rnnviz.count_parameters(cells.SRU(6, 6, version=1)) == 3 * 36 + 4 * 6 - 2 * 6
    assert rnnviz.count_parameters(cells.SRU(4, 6, highway=False)) == 3 * 24 + 4 * 6


def test_parameter_layouts_documented_in_the_api():
    pru = cells.PRU(3, 4)
    shapes = {k: tuple(v.shape) for k, v in pru.named_parameters()}
    assert shapes == {"weight_ih": (8, 3), "weight_hh": (8, 4), "bias_ih": (8,), "bias_hh": (8,),
                      "weight_out": (4, 4), "bias_out": (4,)}
    sru = cells.SRU(3, 4)
    shapes = {k: tuple(v.shape) for k, v in sru.named_parameters()}
    assert shapes == {"weight": (16, 3), "weight_c": (8,), "bias": (8,)}
    assert sru.alpha == pytest.approx((1 + 2 * torch.exp(torch.tensor(-2.0)).item()) ** 0.5)
    assert cells.SRU(4, 4).weight.shape == (12, 4)


def test_sru_matches_its_equations_by_hand():
    cell = cells.SRU(2, 2, dtype=torch.float64)
    x = torch.randn(1, 1, 2, dtype=torch.float64)
    c0 = torch.randn(1, 2, dtype=torch.float64)
    W, v, b = cell.weight, cell.weight_c, cell.bias
    u = x[0, 0] @ W.T
    f = torch.sigmoid(u[2:4] + v[:2] * c0[0] + b[:2])
    r = torch.sigmoid(u[4:6] + v[2:] * c0[0] + b[2:])
    c = f * c0[0] + (1 - f) * u[:2]
    h = r * c + (1 - r) * cell.alpha * x[0, 0]
    y, s = cell(x, c0)
    torch.testing.assert_close(y[0, 0], h)
    torch.testing.assert_close(s[0], c)


def test_pru_matches_its_equations_by_hand():
    cell = cells.PRU(3, 2, dtype=torch.float64)
    x = torch.randn(1, 1, 3, dtype=torch.float64)
    s0 = torch.randn(1, 2, dtype=torch.float64)
    g = x[0, 0] @ cell.weight_ih.T + cell.bias_ih + s0[0] @ cell.weight_hh.T + cell.bias_hh
    c, u = torch.sigmoid(g[:2]), torch.tanh(g[2:])
    s = c * s0[0] + (1 - c) * u
    y_expected = torch.tanh(s @ cell.weight_out.T + cell.bias_out)
    y, s_final = cell(x, s0)
    torch.testing.assert_close(s_final[0], s)
    torch.testing.assert_close(y[0, 0], y_expected)
    plain = cells.PRU(3, 2, output_map=False, dtype=torch.float64)
    y_plain, s_plain = plain(x, s0)
    torch.testing.assert_close(y_plain[0], s_plain)


def test_ihc_lstm_output_has_input_highway():
    cell = cells.LSTM(3, 3, ihc=True, dtype=torch.float64)
    x = torch.randn(1, 2, 3, dtype=torch.float64)
    tr = cell.trace(x)
    h, c = tr.states[1].chunk(2, dim=-1)
    o = tr.gates["output"][0]
    torch.testing.assert_close(h, o * torch.tanh(c) + (1 - o) * x[0])


def test_repr_is_readable():
    text = repr(cells.make("irc_gru", 4, 4, n_models=2))
    assert "GRU(4, 4" in text and "irc=True" in text and "n_models=2" in text and "parameters=" in text


def test_summary_table_and_demo(tmp_path):
    from rnnviz.cli._demo import cell_tour

    table = cells.summary_table(6, 6)
    assert list(table["cell"]) == list(ALL)
    lstm = table.set_index("cell").loc["lstm"]
    assert lstm["parameters"] == _expected_count("lstm", 6, 6) and lstm["state_size"] == 12
    assert "irc_gru" not in set(cells.summary_table(3, 6)["cell"])
    table = cell_tour(tmp_path, size=4, steps=5, inits=2)
    assert len(table) == len(ALL)
    assert (table["memory_time"] > 0).all()  # the tour's memory time scale of every cell
    assert (tmp_path / "cell_responses.pdf").stat().st_size > 0
    assert (tmp_path / "cell_responses.png").stat().st_size > 0


def test_member_and_stack_leave_the_global_random_generator_alone():
    ens = cells.make("lstm", 3, 3, n_models=2)
    state = torch.random.get_rng_state()
    singles = [ens.member(i) for i in range(2)]
    cells.Ensemble.stack(singles)
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.parametrize("n_models", [None, 3])
@pytest.mark.parametrize("name", cells.names())
def test_generator_gives_reproducible_weights_and_leaves_global_rng_alone(name, n_models):
    before = torch.get_rng_state()
    a = cells.make(name, 6, 6, n_models=n_models, generator=torch.Generator().manual_seed(7))
    b = cells.make(name, 6, 6, n_models=n_models, generator=torch.Generator().manual_seed(7))
    c = cells.make(name, 6, 6, n_models=n_models, generator=torch.Generator().manual_seed(8))
    assert torch.equal(torch.get_rng_state(), before)  # no draw from torch's global generator
    for (key, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), key
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True))
    assert "_init_generator" not in a.__dict__  # the cell keeps no reference to it
    g = torch.Generator().manual_seed(7)
    a.reset_parameters(generator=g)
    assert all(torch.equal(pa, pb) for pa, pb in zip(a.parameters(), b.parameters(), strict=True))


def test_generator_must_be_a_generator():
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        cells.make("gru", 3, 4, generator=7)
