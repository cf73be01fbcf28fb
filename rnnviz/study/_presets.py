"""The sweeps behind ``rnnviz capacity --preset NAME``, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..train import TrainConfig


@dataclass(frozen=True)
class Preset:
    """A named capacity sweep: the grid, the task alphabet and the training settings."""

    description: str
    cells: tuple[str, ...]
    hidden_sizes: tuple[int, ...]
    targeted_bits: tuple[float, ...]
    interfering: tuple[tuple[int, str], ...]
    seeds: tuple[int, ...]
    alphabet: int = 4
    train: TrainConfig = field(default_factory=TrainConfig)
    n_test: int = 2000

    @property
    def n_models(self) -> int:
        return (
            len(self.cells)
            * len(self.hidden_sizes)
            * len(self.targeted_bits)
            * len(self.interfering)
            * len(self.seeds)
        )


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
    "paper": Preset(
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


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {list(PRESETS)}, got {name!r}")
    return PRESETS[name]


def run_preset(
    name: str,
    out: str | Path,
    *,
    device: str = "cpu",
    scheduler: str | None = None,
    client=None,
    threads: int | None = 1,
    workers: int = 1,
    progress: bool = True,
    on_group=None,
    time_limit: float | None = None,
):
    """Run (or resume) a preset sweep; write ``out/capacity.sqlite``, ``out/capacity.csv`` and
    ``out/capacity_summary.csv`` (``rnnviz capacity`` then draws the figures). Returns ``(rows, summary)``.

    ``time_limit`` (seconds): start no group after it (see :func:`rnnviz.study.capacity`); the files
    then hold the models finished so far and ``len(rows) < rows.attrs["n_planned"]``."""
    from ._run import capacity
    from ._summary import summarize

    p = get_preset(name)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = capacity(
        p.cells,
        p.hidden_sizes,
        p.targeted_bits,
        p.interfering,
        p.seeds,
        alphabet=p.alphabet,
        train=p.train,
        n_test=p.n_test,
        store=out / "capacity.sqlite",
        device=device,
        client=client,
        scheduler=scheduler,
        threads=threads,
        workers=workers,
        progress=progress,
        on_group=on_group,
        time_limit=time_limit,
    )
    rows.to_csv(out / "capacity.csv", index=False)
    summary = summarize(rows)
    summary.to_csv(out / "capacity_summary.csv", index=False)
    return rows, summary
