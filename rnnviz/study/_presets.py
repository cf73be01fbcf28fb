"""The sweeps behind ``rnnviz capacity --preset NAME``, in one place.

A preset is a frozen dataclass with :attr:`~Preset.n_models` and :meth:`~Preset.run`, the same shape as
the language-model study's :class:`~rnnviz.study.LMPreset`: ``capacity_preset("demo").run(out)``
(or ``PRESETS["demo"].run(out)``) trains or resumes the sweep and returns its rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from .._checks import check_choice
from .._files import write_text_atomically
from ..train import TrainConfig
from ._run import capacity
from ._spec import grid
from ._summary import summarize


@dataclass(frozen=True)
class Preset:
    """A named capacity sweep: the grid, the task alphabet, the protocol and the training settings.

    ``protocol``: 1 (``interfering`` holds ``(L, "blank"|"random")`` pairs) or 2 (``interfering``
    holds doses ``(L, n_random)``); ``lr``: learning rates per cell (``{"lstm": 1e-2, ...}``; cells
    it leaves out use ``train.lr``; None: ``train.lr`` for all), e.g. from
    :func:`rnnviz.study.learning_rate_pilot`. ``warm_start`` (protocol 2): train each chain in
    ascending K from the previous K's weights (see :func:`rnnviz.study.capacity`; weights in
    ``out/capacity.sqlite.weights/``). ``pilot_lrs``, ``pilot_points``, ``pilot_interfering``,
    ``pilot_seeds``: the learning-rate pilot that chose ``lr`` (:meth:`pilot`).
    """

    description: str
    cells: tuple[str, ...]
    hidden_sizes: tuple[int, ...]
    targeted_bits: tuple[float, ...]
    interfering: tuple[tuple[int, str], ...] | tuple[tuple[int, int], ...]
    seeds: tuple[int, ...]
    alphabet: int = 4
    train: TrainConfig = field(default_factory=TrainConfig)
    n_test: int = 2000
    protocol: int = 1
    lr: dict[str, float] | None = None
    warm_start: bool = False
    pilot_lrs: tuple[float, ...] = ()
    pilot_points: tuple[tuple[int, float], ...] = ()
    pilot_interfering: tuple = ()
    pilot_seeds: tuple[int, ...] = (0, 1)

    def pilot(self, out: str | Path, *, device: str = "auto", threads: int | None = 1, workers: int = 1,
              progress: bool = True) -> pd.DataFrame:
        """The learning-rate pilot of this sweep: every cell at every rate of ``pilot_lrs`` on the
        ``pilot_points`` ((n, targeted bits) pairs) with ``pilot_interfering`` and ``pilot_seeds``,
        trained cold with the sweep's settings (:func:`rnnviz.study.learning_rate_pilot`).

        Writes ``out/capacity_pilot.sqlite`` (resumable) and ``out/capacity_pilot.csv``; returns the
        table (one row per cell and rate; ``best`` marks each cell's choice, ``attrs["best"]`` is
        ``{cell: lr}``, the value for ``lr``).
        """
        from ._pilot import learning_rate_pilot

        if not (self.pilot_lrs and self.pilot_points and self.pilot_interfering):
            raise ValueError("this preset has no pilot: give it pilot_lrs, pilot_points and pilot_interfering")
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        table = learning_rate_pilot(self.cells, self.pilot_lrs, points=self.pilot_points,
                                    interfering=self.pilot_interfering, seeds=self.pilot_seeds,
                                    alphabet=self.alphabet, protocol=self.protocol, train=self.train,
                                    n_test=self.n_test, store=out / "capacity_pilot.sqlite", device=device,
                                    threads=threads, workers=workers, progress=progress)
        write_text_atomically(out / "capacity_pilot.csv", table.to_csv(index=False))
        return table

    @property
    def n_models(self) -> int:
        """Models the sweep trains: cells × hidden sizes × targeted amounts × interference settings × seeds,
        each distinct model once (see :func:`rnnviz.study.sweep_specs`)."""
        return grid(self.cells, self.hidden_sizes, self.targeted_bits, self.interfering, self.seeds,
                    alphabet=self.alphabet, protocol=self.protocol, warn=False).size

    def run(
        self,
        out: str | Path,
        *,
        device: str = "auto",
        threads: int | None = 1,
        workers: int = 1,
        scheduler: str | None = None,
        client=None,
        progress: bool = True,
        time_limit: float | None = None,
        on_trained: Callable[[list[dict]], None] | None = None,
    ) -> pd.DataFrame:
        """Run (or resume) the sweep; write ``out/capacity.sqlite`` (the store), ``out/capacity.csv``
        and ``out/capacity_summary.csv`` (``rnnviz capacity`` then draws the figures).

        ``device``: "auto" (CUDA when available, else the CPU), "cpu", "cuda", …; ``threads``,
        ``workers``, ``scheduler``, ``client``: see :func:`rnnviz.study.capacity`. ``time_limit``
        (seconds): start no group after it; the files then hold the models finished so far.
        ``on_trained``: called with the rows of the models trained now, as each group finishes.

        Returns:
            One row per model finished (earlier or now); ``rows.attrs["n_planned"]`` is
            :attr:`n_models`, more than ``len(rows)`` when the time limit stopped the sweep.
        """
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        rows = capacity(
            self.cells,
            self.hidden_sizes,
            self.targeted_bits,
            self.interfering,
            self.seeds,
            alphabet=self.alphabet,
            train=self.train,
            n_test=self.n_test,
            protocol=self.protocol,
            lr=self.lr,
            store=out / "capacity.sqlite",
            device=device,
            client=client,
            scheduler=scheduler,
            threads=threads,
            workers=workers,
            progress=progress,
            on_group=on_trained,
            time_limit=time_limit,
            warm_start=self.warm_start,
        )
        write_text_atomically(out / "capacity.csv", rows.to_csv(index=False))
        write_text_atomically(out / "capacity_summary.csv", summarize(rows).to_csv(index=False))
        return rows


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        description="seconds: checks the whole pipeline (CI)",
        cells=("gru", "pru"),
        hidden_sizes=(4,),
        targeted_bits=(2.0, 4.0),
        interfering=((1, "blank"),),
        seeds=(0,),
        alphabet=4,
        n_test=200,
        train=TrainConfig(steps=30, batch_size=16, lr=1e-2, eval_every=10, eval_batch=64),
    ),
    "demo": Preset(
        description="under 10 minutes on a 2-core CPU: capacity grows with state size, interference lowers it",
        cells=("gru", "lstm", "pru"),
        hidden_sizes=(2, 4, 8, 16),
        targeted_bits=(2.0, 4.0, 6.0, 8.0, 12.0, 16.0),
        interfering=((4, "blank"), (4, "random")),
        seeds=(0, 1),
        alphabet=4,
        n_test=1000,
        train=TrainConfig(steps=800, batch_size=32, lr=2e-2, eval_every=50, eval_batch=256),
    ),
    # The CPU study (issue 13): protocol 2 (store-end cue; interference as a dose at a fixed delay of
    # 8 steps: 0, 4 or 8 random symbols = 0, 8, 16 interfering bits), cold starts (at these rates a
    # warm start over K recalled far less: data/capacity_paper_sizing_warm.csv), each model
    # trained to its plateau (1 % over the last fifth of the steps, judged only once it recalls more
    # than 0.1 bit; one tenfold learning-rate drop) within a budget of 12,000 steps, learning rates per
    # cell from the two pilots (data/capacity_paper_pilot.csv: 1e-3 < 3e-3 < 1e-2 for every cell at a
    # 4,000-step budget, where nearly every model ran out of steps; data/capacity_paper_pilot2.csv:
    # 1e-2 vs 3e-2 at 12,000 steps). 1,890 models; started (477 in 49 min with --workers 2, the partial
    # store in data/capacity_paper_run/), about 3-3.5 hours in all (docs/capacity.md, "Sizing").
    "paper": Preset(
        description="2-core CPU (--workers 2), about 3-3.5 hours (started, not finished): 7 cells x n 4-64 x 6 targeted amounts "
        "x 3 interference doses x 3 seeds, protocol 2, trained to a plateau",
        cells=("pru", "sru", "gru", "lstm", "rnn", "irc_gru", "ihc_lstm"),
        hidden_sizes=(4, 8, 16, 32, 64),
        targeted_bits=(2.0, 4.0, 8.0, 16.0, 32.0, 64.0),
        interfering=((8, 0), (8, 4), (8, 8)),
        seeds=(0, 1, 2),
        alphabet=4,
        n_test=1000,
        protocol=2,
        train=TrainConfig(steps=12_000, batch_size=64, lr=1e-2, schedule="constant", warmup=50, eval_every=100,
                          eval_batch=256, target_accuracy=0.99, plateau=0.01, plateau_window=0.2,
                          plateau_min_steps=1000, lr_drops=1, plateau_floor=0.1),
        lr={"gru": 3e-2},
        pilot_lrs=(1e-2, 3e-2),
        pilot_points=((16, 16.0), (32, 32.0)),
        pilot_interfering=((8, 4),),
        pilot_seeds=(0, 1),
    ),
    "gpu": Preset(
        description="GPU: 7 cells x 6 state sizes x 7 targeted amounts x 2 interference settings x 3 seeds "
        "(42 ensembles of 42 models; sized for about 10 minutes on one H100, not yet timed)",
        cells=("pru", "sru", "gru", "lstm", "rnn", "irc_gru", "ihc_lstm"),
        hidden_sizes=(4, 8, 16, 32, 64, 128),
        targeted_bits=(8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0),
        interfering=((32, "blank"), (32, "random")),
        seeds=(0, 1, 2),
        alphabet=16,
        n_test=4000,
        train=TrainConfig(steps=3000, batch_size=128, lr=3e-3, warmup=200, eval_every=100, eval_batch=256),
    ),
}


def preset(name: str, **changes) -> Preset:
    """The capacity preset called ``name`` (a key of :data:`PRESETS`), with fields replaced by ``changes``
    (e.g. ``preset("demo", seeds=(0,))``)."""
    return pick(PRESETS, name, changes)


def pick(presets: dict, name: str, changes: dict):
    """``presets[name]`` with the fields in ``changes`` replaced: the lookup of both studies' presets."""
    check_choice("preset", name, presets)
    return replace(presets[name], **changes)


def run_preset(name: str, out: str | Path, **options):
    """Deprecated: use ``rnnviz.study.capacity_preset(name).run(out, ...)`` (or
    ``rnnviz.study.PRESETS[name].run``), which returns the rows; this returns ``(rows, summary)``
    as before, and keeps its default ``device="cpu"``. ``on_group`` is now ``on_trained``."""
    warnings.warn("rnnviz.study.run_preset(name, out, ...) is deprecated: use rnnviz.study.capacity_preset(name)"
                  ".run(out, ...) (it returns the rows; summarize(rows) gives the summary); run_preset goes in "
                  "0.3.0", DeprecationWarning, stacklevel=2)
    options.setdefault("device", "cpu")
    if "on_group" in options:
        options["on_trained"] = options.pop("on_group")
    rows = preset(name).run(out, **options)
    return rows, summarize(rows)
