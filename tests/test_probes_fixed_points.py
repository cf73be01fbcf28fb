"""Fixed points with known answers: a linear cell, 1- and 2-unit tanh RNNs, a trained 3-bit flip-flop."""

import itertools
import math
from pathlib import Path

import pytest
import torch
from probes_support import tanh_rnn
from scipy.optimize import brentq
from torch import nn

from rnnviz import cells
from rnnviz.probes import (
    FixedPoints,
    fixed_points,
    input_jacobians,
    lyapunov_spectrum,
    sample_initial_states,
    step_jacobians,
)
from rnnviz.probes._jacobians import state_and_input_jacobians

DATA = Path(__file__).parent / "data"


class LinearCell(nn.Module):
    """s' = A s + B x + b: its only fixed point is (I − A)⁻¹ (B x + b)."""

    def __init__(self, A, B, b):
        super().__init__()
        self.A, self.B, self.b = nn.Parameter(A), nn.Parameter(B), nn.Parameter(b)
        self.state_size, self.input_size = A.shape[0], B.shape[1]

    def step(self, x, s):
        return s @ self.A.T + x @ self.B.T + self.b


def test_linear_cell_analytic_fixed_point():
    g = torch.Generator().manual_seed(1)
    A = 0.3 * torch.randn(4, 4, generator=g, dtype=torch.float64)
    B = torch.randn(4, 2, generator=g, dtype=torch.float64)
    b = torch.randn(4, generator=g, dtype=torch.float64)
    cell = LinearCell(A, B, b)
    x = torch.tensor([0.5, -1.0], dtype=torch.float64)
    fps = fixed_points(cell, x, torch.randn(64, 4, dtype=torch.float64), max_iter=100, outlier_scale=None)
    expected = torch.linalg.solve(torch.eye(4, dtype=torch.float64) - A, B @ x + b)
    assert len(fps) == 1 and len(fps.slow_points) == 0
    torch.testing.assert_close(fps.states[0], expected, atol=1e-10, rtol=0)
    torch.testing.assert_close(fps.jacobians[0], A)
    torch.testing.assert_close(fps.input_jacobians[0], B)
    lam = torch.linalg.eigvals(A)
    torch.testing.assert_close(fps.eigenvalues[0].abs(), lam.abs().sort(descending=True).values)
    assert bool(fps.is_stable[0]) == bool(lam.abs().max() < 1)
    assert fps.q[0] < 1e-20


def test_one_unit_tanh_rnn_by_hand():
    # h = tanh(0.5 h + 0.3): one stable root, found by a scalar root solve
    cell = tanh_rnn(torch.tensor([[0.5]], dtype=torch.float64), torch.tensor([0.3], dtype=torch.float64))
    root = brentq(lambda h: h - math.tanh(0.5 * h + 0.3), -1, 1, xtol=1e-15)
    fps = fixed_points(cell, torch.zeros(1, dtype=torch.float64), torch.linspace(-2, 2, 16).view(-1, 1).double())
    assert len(fps) == 1
    assert abs(fps.states[0, 0].item() - root) < 1e-12
    assert abs(fps.jacobians[0, 0, 0].item() - 0.5 * (1 - root**2)) < 1e-12
    assert fps.is_stable.tolist() == [True] and fps.n_unstable.tolist() == [0]


def test_two_unit_tanh_rnn_saddle_and_attractors():
    # W = diag(2, 0.5), no bias: h1 ∈ {0, ±h*} with h* = tanh(2 h*), h2 = 0. The origin is a saddle
    # (eigenvalues 2 and 0.5), the two others are stable with eigenvalues 2(1 − h*²) and 0.5.
    cell = tanh_rnn(torch.diag(torch.tensor([2.0, 0.5], dtype=torch.float64)))
    h_star = brentq(lambda h: h - math.tanh(2.0 * h), 0.5, 1, xtol=1e-15)
    init = torch.cartesian_prod(torch.linspace(-1, 1, 9), torch.linspace(-1, 1, 5)).double()
    fps = fixed_points(cell, torch.zeros(1, dtype=torch.float64), init)
    order = fps.states[:, 0].argsort()
    states = fps.states[order]
    expected = torch.tensor([[-h_star, 0.0], [0.0, 0.0], [h_star, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(states, expected, atol=1e-10, rtol=0)
    assert fps.n_unstable[order].tolist() == [0, 1, 0]
    lam = fps.eigenvalues[order].real
    torch.testing.assert_close(lam[1], torch.tensor([2.0, 0.5], dtype=torch.float64))
    torch.testing.assert_close(lam[0], torch.tensor([0.5, 2 * (1 - h_star**2)], dtype=torch.float64)
                               .sort(descending=True).values)
    torch.testing.assert_close(fps.unstable_directions(int(order[1])).abs(),
                               torch.tensor([[1.0, 0.0]], dtype=torch.float64))


def flipflop_cell():
    ck = torch.load(DATA / "flipflop_rnn16.pt", weights_only=True)
    cell = cells.RNN(3, 16)
    cell.load_state_dict({k: v for k, v in ck.items() if not k.startswith("readout")})
    return cell, ck["readout.weight"], ck["readout.bias"]


def test_flipflop_has_eight_stable_fixed_points_and_saddles():
    cell, w_out, b_out = flipflop_cell()
    g = torch.Generator().manual_seed(0)
    pulses = (torch.rand(100, 16, 3, generator=g) < 0.05).float() * (torch.randint(0, 2, (100, 16, 3), generator=g) * 2 - 1)
    with torch.no_grad():
        tr = cell.trace(pulses)
    init = sample_initial_states(tr, 256, noise=0.5, generator=g)
    fps = fixed_points(cell, torch.zeros(3), init)
    assert (fps.q < 1e-10).all()
    assert len(fps.slow_points) == 0
    stable = fps[fps.is_stable]
    assert len(stable) == 8
    # the readout of the 8 attractors spells out the 8 memories (±1, ±1, ±1)
    codes = {tuple(v) for v in torch.sign(stable.states.float() @ w_out.T + b_out).int().tolist()}
    assert codes == set(itertools.product((-1, 1), repeat=3))
    assert (fps.n_unstable[~fps.is_stable] >= 1).all() and (~fps.is_stable).sum() >= 12  # saddles
    assert fps.input_jacobians.shape == (len(fps), 16, 3)


def test_step_jacobians_match_finite_differences_for_every_cell():
    for name in cells.names():
        cell = cells.make(name, 3, 3).double()
        s = 0.5 * torch.randn(4, cell.state_size, dtype=torch.float64)
        x = torch.randn(4, 3, dtype=torch.float64)
        J, K = step_jacobians(cell, x, s), input_jacobians(cell, x, s)
        pair = state_and_input_jacobians(cell, x, s, max_rows=2 * cell.state_size)  # one pass, in chunks of 2
        assert torch.equal(pair[0], J) and torch.equal(pair[1], K)
        eps = 1e-6
        with torch.no_grad():
            fd_s = torch.stack([(cell.step(x, s + eps * e) - cell.step(x, s - eps * e)) / (2 * eps)
                                for e in torch.eye(cell.state_size, dtype=torch.float64)], -1)
            fd_x = torch.stack([(cell.step(x + eps * e, s) - cell.step(x - eps * e, s)) / (2 * eps)
                                for e in torch.eye(3, dtype=torch.float64)], -1)
        torch.testing.assert_close(J, fd_s, atol=1e-8, rtol=0, msg=name)
        torch.testing.assert_close(K, fd_x, atol=1e-8, rtol=0, msg=name)


def test_ensemble_is_optimised_jointly_and_matches_members():
    W = [torch.diag(torch.tensor([2.0, 0.5])), torch.diag(torch.tensor([0.5, 0.5]))]
    members = [tanh_rnn(w.double()) for w in W]
    ens = cells.Ensemble.stack(members)
    init = torch.cartesian_prod(torch.linspace(-1, 1, 7), torch.linspace(-1, 1, 3)).double()
    out = fixed_points(ens, torch.zeros(1, dtype=torch.float64), init)
    assert [len(f) for f in out] == [3, 1]
    for fp_e, cell in zip(out, members, strict=True):
        single = fixed_points(cell, torch.zeros(1, dtype=torch.float64), init)
        torch.testing.assert_close(fp_e.states[fp_e.states[:, 0].argsort()],
                                   single.states[single.states[:, 0].argsort()], atol=1e-10, rtol=0)
    J_ens = step_jacobians(ens, torch.zeros(2, 5, 1, dtype=torch.float64), torch.rand(2, 5, 2, dtype=torch.float64))
    assert J_ens.shape == (2, 5, 2, 2)


def test_unconverged_points_are_reported_apart_and_save_load_round_trip(tmp_path):
    # h' = tanh(0.9 h + 0.2 x): with x = 1 and only 3 Adam steps and no Newton nothing converges
    cell = tanh_rnn(torch.tensor([[0.9]], dtype=torch.float64), input_weight=0.2)
    x = torch.ones(1, dtype=torch.float64)
    init = torch.linspace(-1, 1, 5).view(-1, 1).double()
    early = fixed_points(cell, x, init, max_iter=3, check_every=3, newton_steps=0, dedup_distance=0.0)
    assert len(early) == 0 and len(early.slow_points) == 5
    assert (early.slow_points.q >= 1e-12).all() and not early.slow_points.converged.any()
    done = fixed_points(cell, x, init)
    assert len(done) == 1 and done.info["n_duplicates"] == 4
    path = tmp_path / "fps.pt"
    done.save(path)
    back = FixedPoints.load(path)
    for key in ("states", "q", "jacobians", "input_jacobians", "eigenvalues", "converged"):
        assert torch.equal(getattr(back, key), getattr(done, key))
    assert len(back.slow_points) == 0 and back.info["n_duplicates"] == 4
    assert back.contains(done.states[0]) and not back.contains(done.states[0] + 1)


def test_outliers_are_dropped():
    # h' = 0.5 h (linear, stable): its fixed point 0 lies far from initial states clustered at 100
    cell = LinearCell(torch.tensor([[0.5]], dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64),
                      torch.zeros(1, dtype=torch.float64))
    init = 100 + 0.01 * torch.randn(8, 1, dtype=torch.float64)
    fps = fixed_points(cell, torch.zeros(1, dtype=torch.float64), init, max_iter=100, outlier_scale=10.0)
    assert len(fps) == 0 and fps.info["n_outliers"] == 8
    kept = fixed_points(cell, torch.zeros(1, dtype=torch.float64), init, max_iter=100, outlier_scale=None)
    assert len(kept) == 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"initial_states": torch.zeros(4, 3)}, "initial_states must be"),
    ({"x": torch.zeros(2)}, "x must have input_size=1"),
    ({"max_iter": 0}, "max_iter must be an integer >= 1"),
    ({"tol_q": 0.0}, "tol_q must be > 0"),
])
def test_bad_input_is_named(kwargs, message):
    cell = tanh_rnn(torch.eye(2, dtype=torch.float64))
    args = {"x": torch.zeros(1, dtype=torch.float64), "initial_states": torch.zeros(4, 2, dtype=torch.float64)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        fixed_points(cell, **args)


def test_adam_loop_reads_the_host_only_once_per_check(monkeypatch):
    from rnnviz.probes import _fixed_points

    cell = tanh_rnn(torch.diag(torch.tensor([2.0, 0.5], dtype=torch.float64)))
    reads = []
    for name in ("item", "cpu", "tolist", "numpy", "__bool__", "__float__", "__int__"):
        original = getattr(torch.Tensor, name)

        def spy(self, *a, _original=original, _name=name, **k):
            reads.append(_name)
            return _original(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, spy)
    s0 = torch.randn(64, 2, dtype=torch.float64)
    x = torch.zeros(64, 1, dtype=torch.float64)
    _, _, iterations = _fixed_points._adam(cell, x, s0, tol=1e-30, max_iter=300, lr=1e-3, betas=(0.9, 0.999),
                                           eps=1e-8, lr_decay=0.9, clip_norm=1.0, check_every=100,
                                           stall_rtol=0.0, progress=False)
    monkeypatch.undo()
    assert iterations == 300
    assert reads.count("cpu") == 3 and len(reads) <= 3 * 3  # one read-back (and two bools on it) per check


def test_decay_and_clipping_options_reach_the_same_points():
    cell = tanh_rnn(torch.diag(torch.tensor([2.0, 0.5], dtype=torch.float64)))
    init = torch.cartesian_prod(torch.linspace(-1, 1, 9), torch.linspace(-1, 1, 5)).double()
    plain = fixed_points(cell, torch.zeros(1, dtype=torch.float64), init)
    tuned = fixed_points(cell, torch.zeros(1, dtype=torch.float64), init, lr_decay=0.8, clip_norm=0.05,
                         newton_steps=0, tol_q=1e-14, max_iter=3000, progress=True)
    assert len(tuned) == len(plain) == 3
    for s in tuned.states:
        assert plain.contains(s, tol=1e-6)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        fixed_points(cell, [0.0], init)


def test_one_held_input_per_point_through_the_public_api():
    # h' = tanh(0.5 h + 0.8 x): one fixed point h*(x) per input, found by a scalar root solve
    cell = tanh_rnn(torch.tensor([[0.5]], dtype=torch.float64), input_weight=0.8)
    levels = torch.tensor([-1.0, -0.25, 0.0, 0.5, 1.5], dtype=torch.float64)
    x = levels.repeat_interleave(4).view(-1, 1)  # (20, 1): four initial states per input
    init = torch.linspace(-0.9, 0.9, 4, dtype=torch.float64).repeat(5).view(-1, 1)
    fps = fixed_points(cell, x, init)
    assert len(fps) == 5 and len(fps.slow_points) == 0 and fps.info["n_duplicates"] == 15
    order = fps.inputs[:, 0].argsort()
    torch.testing.assert_close(fps.inputs[order, 0], levels)
    roots = [brentq(lambda h, u=u: h - math.tanh(0.5 * h + 0.8 * u), -1, 1, xtol=1e-15) for u in levels.tolist()]
    torch.testing.assert_close(fps.states[order, 0], torch.tensor(roots, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(fps.input_jacobians[order, 0, 0],
                               0.8 * (1 - torch.tensor(roots, dtype=torch.float64) ** 2), atol=1e-12, rtol=0)


def test_points_with_the_same_state_but_different_inputs_are_not_merged():
    # s' = A s + B x + b with B of rank 1: the inputs (0, 0), (1, 1) and (-2, -2) share one fixed point
    # (I − A)⁻¹ b; (1, 0) has another. De-duplication runs over [s; x], so three identical states remain.
    A = torch.tensor([[0.3, 0.1], [-0.2, 0.4]], dtype=torch.float64)
    B = torch.tensor([[1.0, -1.0], [0.5, -0.5]], dtype=torch.float64)
    b = torch.tensor([0.2, -0.1], dtype=torch.float64)
    cell = LinearCell(A, B, b)
    inputs = torch.tensor([[0.0, 0.0], [1.0, 1.0], [-2.0, -2.0], [1.0, 0.0]], dtype=torch.float64)
    x = inputs.repeat_interleave(3, dim=0)  # (12, 2)
    init = torch.randn(12, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    fps = fixed_points(cell, x, init, outlier_scale=None)
    assert len(fps) == 4 and fps.info["n_duplicates"] == 8 and fps.info["n_converged"] == 12
    eye = torch.eye(2, dtype=torch.float64)
    for u in inputs:
        (i,) = (fps.inputs == u).all(-1).nonzero().squeeze(-1).tolist()
        torch.testing.assert_close(fps.states[i], torch.linalg.solve(eye - A, B @ u + b), atol=1e-10, rtol=0)
    same = fps.states[(fps.inputs[:, 0] == fps.inputs[:, 1])]
    assert len(same) == 3 and (same - same[0]).abs().max() < 1e-10
    # an input per point with the wrong shape is named
    with pytest.raises(ValueError, match="x must have shape"):
        fixed_points(cell, x[:5], init)


def _small(name, seed, **options):
    torch.manual_seed(seed)
    return cells.make(name, 2, 3, dtype=torch.float64, **options)


def test_lstm_fixed_points_are_fixed_points_of_its_step():
    cell = _small("lstm", 0)
    assert cell.state_size == 6  # the flat state [h; c]
    x = torch.tensor([0.7, -0.4], dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        tr = cell.trace(torch.randn(20, 8, 2, generator=g, dtype=torch.float64))
    fps = fixed_points(cell, x, sample_initial_states(tr, 64, noise=0.5, generator=g))
    assert len(fps) >= 1 and len(fps.slow_points) == 0 and (fps.q < 1e-12).all()
    with torch.no_grad():
        residual = cell.step(fps.inputs, fps.states) - fps.states
    assert residual.abs().max() < 1e-8
    # iterating the map with x held lands on a stable one of them
    with torch.no_grad():
        end = cell.trace(x.expand(2000, 1, 2)).states[-1, 0]
    assert fps[fps.is_stable].contains(end, tol=1e-6)


def test_sru_fixed_point_is_the_candidate_and_its_spectrum_the_forget_gate():
    # c' = f ⊙ c + (1 − f) ⊙ W x with f < 1: the fixed point is c* = W x, where ∂c'/∂c = diag(f)
    cell = _small("sru", 2)
    n = cell.hidden_size
    x = torch.tensor([0.7, -0.4], dtype=torch.float64)
    with torch.no_grad():
        c_star = cell.weight[:n] @ x
        f = torch.sigmoid(cell.weight[n:2 * n] @ x + cell.weight_c[:n] * c_star + cell.bias[:n])
    init = torch.randn(32, n, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    fps = fixed_points(cell, x, init)
    assert len(fps) == 1 and len(fps.slow_points) == 0 and fps.q[0] < 1e-12
    torch.testing.assert_close(fps.states[0], c_star, atol=1e-10, rtol=0)
    with torch.no_grad():
        assert (cell.step(fps.inputs, fps.states) - fps.states).abs().max() < 1e-8
    torch.testing.assert_close(fps.jacobians[0], torch.diag(f), atol=1e-10, rtol=0)
    torch.testing.assert_close(fps.eigenvalues[0].real, f.sort(descending=True).values, atol=1e-10, rtol=0)
    assert bool(fps.is_stable[0])
    # at the fixed point the Lyapunov exponents are log f, in decreasing order
    exps = lyapunov_spectrum(cell, x.expand(50, 1, 2), c_star.view(1, n)).exponents
    torch.testing.assert_close(exps[0], f.log().sort(descending=True).values, atol=1e-10, rtol=0)


@pytest.mark.parametrize("name", ["lstm", "sru"])
def test_lyapunov_spectrum_of_lstm_and_sru_ensembles_matches_members(name):
    members = [_small(name, seed) for seed in (4, 5)]
    ens = cells.Ensemble.stack(members)
    S = ens.state_size
    g = torch.Generator().manual_seed(6)
    x = torch.randn(2, 40, 3, 2, generator=g, dtype=torch.float64)
    s0 = 0.3 * torch.randn(2, 3, S, generator=g, dtype=torch.float64)
    spectrum = lyapunov_spectrum(ens, x, s0, warmup=5)
    assert (spectrum.steps, spectrum.warmup) == (40, 5)
    both = spectrum.exponents
    assert both.shape == (2, 3, S) and both.dtype == torch.float64
    assert (both[..., :-1] >= both[..., 1:]).all()  # sorted, largest first
    assert both.isfinite().all() and both[..., 0].max() < 0.5
    for e, cell in enumerate(members):
        torch.testing.assert_close(both[e], lyapunov_spectrum(cell, x[e], s0[e], warmup=5).exponents)
    # the k leading exponents follow k vectors only (over a finite time they need not be the k largest
    # of the full spectrum, whose columns are averaged before sorting)
    top = lyapunov_spectrum(ens, x, s0, n_exponents=2, warmup=5).exponents
    assert top.shape == (2, 3, 2) and (top[..., 0] >= top[..., 1]).all()
    torch.testing.assert_close(top[1], lyapunov_spectrum(members[1], x[1], s0[1], n_exponents=2, warmup=5).exponents)
    # fixed points of the ensemble, member by member, are fixed points of each member's step
    out = fixed_points(ens, torch.zeros(2, dtype=torch.float64), s0[0])
    for fps, cell in zip(out, members, strict=True):
        assert len(fps) >= 1 and len(fps.slow_points) == 0
        with torch.no_grad():
            assert (cell.step(fps.inputs, fps.states) - fps.states).abs().max() < 1e-8


def test_benchmark_baselines_share_rnnviz_post_processing_and_host_adam_mirrors_rnnviz_adam():
    import argparse
    import importlib.util
    import sys

    bench_dir = Path(__file__).parents[1] / "benchmarks"
    sys.path.insert(0, str(bench_dir))
    try:
        spec = importlib.util.spec_from_file_location("bench_fixed_points", bench_dir / "bench_fixed_points.py")
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
    finally:
        sys.path.remove(str(bench_dir))
    cell, _, _ = flipflop_cell()
    g = torch.Generator().manual_seed(0)
    sign = torch.randint(0, 2, (100, 8, 3), generator=g) * 2 - 1
    pulses = (torch.rand(100, 8, 3, generator=g) < 0.05).float() * sign
    with torch.no_grad():
        s0 = sample_initial_states(cell.trace(pulses), 48, noise=0.5, generator=g)
    x = torch.zeros(3)
    args = argparse.Namespace(tol=1e-7, max_iter=700, lr=1e-2)
    check = bench.check_host_adam(cell, x, s0, args)
    assert check["identical"] and check["iterations"] == [200, 200]
    res = {name: bench.run_method(name, cell, x, s0, args) for name in bench.METHODS}
    host, dev = res["host_adam"], res["rnnviz_adam"]
    # same moves: the same points, found in as many iterations up to the device's check interval
    for key in ("n_converged", "n_unique", "n_stable", "n_slow", "n_duplicates", "max_q"):
        assert host[key] == dev[key], key
    assert dev["iterations"] - 100 < host["iterations"] <= dev["iterations"]
    assert res["rnnviz"]["n_converged"] == 48 and res["rnnviz"]["dtype"] == "float64"
    usual = res["usual"]
    assert usual["n_ever_below_tol"] >= usual["n_converged"] and usual["iterations"] <= 700
    for r in res.values():
        assert r["n_initial"] == 48 and r["n_stable"] <= r["n_unique"] and r["seconds"] >= r["loop_seconds"] > 0
    summary = bench.summarise([host, dict(host, seconds=2 * host["seconds"])])
    assert summary["same_counts_in_every_repeat"] and summary["seconds_max"] == 2 * host["seconds"]
