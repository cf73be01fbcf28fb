"""Bad input: every error names the argument, the value received and what was expected."""

import pytest
import torch

from rnnviz import cells


@pytest.fixture
def gru():
    return cells.GRU(4, 6)


def test_wrong_rank(gru):
    with pytest.raises(ValueError, match=r"x must have 3 dimensions .*got shape \(2, 3, 4, 5\)"):
        gru(torch.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"x must have 3 dimensions .*got shape \(4,\)"):
        gru(torch.randn(4))


def test_wrong_feature_size(gru):
    with pytest.raises(ValueError, match=r"x has 5 features .*expected input_size=4"):
        gru(torch.randn(3, 2, 5))


def test_mismatched_batch_between_x_and_s0(gru):
    with pytest.raises(ValueError, match=r"s0 must have shape \(B, state_size\) = \(2, 6\), got \(3, 6\)"):
        gru(torch.randn(3, 2, 4), torch.zeros(3, 6))


def test_lstm_state_is_h_and_c():
    lstm = cells.LSTM(4, 6)
    with pytest.raises(ValueError, match=r"\(2, 12\), got \(2, 6\)"):
        lstm(torch.randn(3, 2, 4), torch.zeros(2, 6))


def test_non_floating_dtype(gru):
    with pytest.raises(TypeError, match="x must be a floating-point tensor, got dtype torch.int64"):
        gru(torch.ones(3, 2, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="x has dtype torch.float64 but the cell's parameters are torch.float32"):
        gru(torch.randn(3, 2, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        gru([[0.0] * 4])


def test_different_devices(gru):
    meta_x = torch.randn(3, 2, 4, device="meta")
    with pytest.raises(ValueError, match="x is on device meta but the cell's parameters are on cpu"):
        gru(meta_x)
    with pytest.raises(ValueError, match="s0 is on device meta"):
        gru(torch.randn(3, 2, 4), torch.zeros(2, 6, device="meta"))


def test_empty_sequence(gru):
    with pytest.raises(ValueError, match="at least one time step"):
        gru(torch.randn(0, 2, 4))


@pytest.mark.parametrize("name", ["irc_gru", "irc_lstm", "ihc_lstm", "irc_sru", "irc_trnn"])
def test_irc_needs_square_sizes(name):
    with pytest.raises(ValueError, match=r"needs input_size == hidden_size .*input_size=3, hidden_size=5"):
        cells.make(name, 3, 5)


@pytest.mark.parametrize("name", cells.names())
def test_needs_square_input_says_which_cells_refuse_unequal_sizes(name):
    if cells.needs_square_input(name):
        with pytest.raises(ValueError, match="needs input_size == hidden_size"):
            cells.make(name, 3, 5)
    else:
        assert cells.make(name, 3, 5).hidden_size == 5
    assert cells.needs_square_input(name) == name.startswith(("irc_", "ihc_"))


def test_unknown_names_and_options():
    with pytest.raises(ValueError, match=r"name must be one of \[.*'pru'.*\], got 'grux'"):
        cells.make("grux", 3, 3)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['irc'\] for cell 'irc_gru'"):
        cells.make("irc_gru", 3, 3, irc=False)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['version'\] for cell 'gru'"):
        cells.make("gru", 3, 3, version=2)
    with pytest.raises(ValueError, match=r"version must be an integer in \[1, 2\], got 3"):
        cells.SRU(3, 3, version=3)
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        cells.RNN(3, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size must be an integer >= 1, got 0"):
        cells.GRU(3, 0)
    with pytest.raises(TypeError, match="input_size must be an integer >= 1, got 2.5"):
        cells.GRU(2.5, 3)


def test_unknown_backend(gru):
    with pytest.raises(ValueError, match=r"backend must be 'auto' or one of \[.*'reference'.*\], got 'cuda'"):
        gru(torch.randn(3, 2, 4), backend="cuda")


def test_step_shapes(gru):
    with pytest.raises(ValueError, match=r"x_t must have shape \(B, input_size\)"):
        gru.step(torch.randn(2, 5), torch.zeros(2, 6))
    with pytest.raises(ValueError, match=r"s must have shape"):
        gru.step(torch.randn(2, 4), torch.zeros(3, 6))


def test_ensemble_errors():
    ens = cells.make("pru", 3, 4, n_models=2)
    with pytest.raises(ValueError, match=r"x must have 4 dimensions \(E, T, B, input_size\)"):
        ens(torch.randn(5, 2, 3))
    with pytest.raises(ValueError, match="x has 3 models on its first axis, expected n_models=2"):
        ens(torch.randn(3, 5, 2, 3))
    with pytest.raises(IndexError, match="member index 2 out of range"):
        ens.member(2)
    with pytest.raises(ValueError, match="member\\(\\) needs an ensemble"):
        cells.PRU(3, 4).member(0)
    with pytest.raises(ValueError, match="already an ensemble"):
        cells.Ensemble.stack([ens])
    with pytest.raises(ValueError, match="differs from cells\\[0\\]"):
        cells.Ensemble.stack([cells.PRU(3, 4), cells.PRU(3, 5)])
    with pytest.raises(ValueError, match="n_models must be an integer >= 1"):
        cells.make("gru", 3, 3, n_models=0)
