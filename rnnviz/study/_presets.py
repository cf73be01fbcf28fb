"""The sweeps behind ``rnnviz capacity --preset NAME``, in one place.

A preset is a frozen dataclass with :attr:`~Preset.n_models` and :meth:`~Preset.run`, the same shape as
the language-model study's :class:`~rnnviz.study.LMPreset`: ``capacity_preset("demo").run(out)``
(or ``PRESETS["demo"].run(out)``) trains or resumes the sweep and returns its rows.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from .._checks import check_choice, check_int, check_limits
from .._files import write_text_atomically
from ..train import TrainConfig
from ._axes import read_axis
from ._hold import at_one_hold
from ._run import capacity, sweep_specs
from ._spec import grid
from ._store import Store
from ._summary import summarize


def _read_alphabets(alphabet, warn: bool = False) -> tuple[int, ...]:
    """A preset's ``alphabet`` (one size, or a tuple or list of sizes) as a tuple of sizes, each an integer
    >= 2 and each once (a repeated size is merged, with a warning when ``warn``)."""
    if isinstance(alphabet, (tuple, list)):
        return read_axis("alphabet", alphabet, lambda name, a: check_int(name, a, 2), warn=warn, stacklevel=6)
    return (check_int("alphabet", alphabet, 2),)


def _given(name: str, amounts) -> bool:
    """Whether a targeted-amounts field holds entries (a sized collection such as a tuple; an error names
    ``name`` otherwise)."""
    if isinstance(amounts, (str, bytes, dict)) or not hasattr(amounts, "__len__"):
        raise TypeError(f"{name} must be a tuple of targeted amounts (empty when the other field gives them), "
                        f"got {amounts!r}")
    return len(amounts) > 0


@dataclass(frozen=True)
class Preset:
    """A named capacity sweep: the grid, the task alphabet, the protocol and the training settings.

    Targeted amounts: ``targeted_bits`` (bits I_T; K = I_T / log2 A symbols) or ``n_targets``
    (symbol counts K; each alphabet A then targets I_T = K log2 A bits): exactly one of the two is
    non-empty. ``alphabet``: one size A, or a tuple of sizes: the grid is then swept once per
    alphabet (:attr:`alphabets`), all into one store. With ``n_targets`` and several alphabets the
    sequence length (T = 2K + L + 2 under protocol 2) is the same at every A while the targeted bits
    vary: the alphabet-size control (docs/capacity.md). With ``targeted_bits`` and several alphabets
    every alphabet targets the same bits, with K = I_T / log2 A symbols.

    ``protocol``: 1 (``interfering`` holds ``(L, "blank"|"random")`` pairs), 2 or 3 (``interfering``
    holds doses ``(L, n_random)``; 3: cued recall); ``lr``: learning rates per cell (``{"lstm": 1e-2, ...}``; cells
    it leaves out use ``train.lr``; None: ``train.lr`` for all), e.g. from
    :func:`rnnviz.study.learning_rate_pilot`. ``warm_start`` (protocol 2): train each chain in
    ascending K from the previous K's weights (see :func:`rnnviz.study.capacity`; weights in
    ``out/capacity.sqlite.weights/``). ``pilot_lrs``, ``pilot_points``, ``pilot_interfering``,
    ``pilot_seeds``: the learning-rate pilot that chose ``lr`` (:meth:`pilot`). ``hold`` (protocols 2
    and 3): read every curve at one hold, each target waiting ``hold`` steps at every K (each dose keeps
    its random symbols and takes the delay ``hold − K − 2``; :func:`rnnviz.study.sweep_specs`).
    """

    description: str
    cells: tuple[str, ...]
    hidden_sizes: tuple[int, ...]
    targeted_bits: tuple[float, ...]
    interfering: tuple[tuple[int, str], ...] | tuple[tuple[int, int], ...]
    seeds: tuple[int, ...]
    alphabet: int | tuple[int, ...] = 4
    train: TrainConfig = field(default_factory=TrainConfig)
    n_test: int = 2000
    protocol: int = 1
    lr: dict[str, float] | None = None
    warm_start: bool = False
    pilot_lrs: tuple[float, ...] = ()
    pilot_points: tuple[tuple[int, float], ...] = ()
    pilot_interfering: tuple = ()
    pilot_seeds: tuple[int, ...] = (0, 1)
    n_targets: tuple[int, ...] = ()
    hold: int | None = None

    def __post_init__(self):
        _read_alphabets(self.alphabet, warn=True)
        bits, symbols = _given("targeted_bits", self.targeted_bits), _given("n_targets", self.n_targets)
        if bits == symbols:
            raise ValueError("give the targeted amounts either in bits (targeted_bits) or in symbols (n_targets): "
                             f"exactly one of them non-empty, got targeted_bits={self.targeted_bits!r} and "
                             f"n_targets={self.n_targets!r}")
        if symbols:
            read_axis("n_targets", self.n_targets, lambda name, k: check_int(name, k, 1), stacklevel=5)

    @property
    def alphabets(self) -> tuple[int, ...]:
        """The alphabet sizes swept, in the order given: ``(alphabet,)`` for one size, each checked
        (an integer >= 2) and each once."""
        return _read_alphabets(self.alphabet)

    def targeted_amounts(self, alphabet: int) -> tuple[float, ...]:
        """The targeted bits swept at ``alphabet``: ``targeted_bits``, or K log2 A for each K of ``n_targets``."""
        if _given("n_targets", self.n_targets):
            return tuple(k * math.log2(alphabet) for k in self.n_targets)
        return tuple(self.targeted_bits)

    def pilot(self, out: str | Path, *, device: str = "auto", threads: int | None = 1, workers: int = 1,
              progress: bool = True) -> pd.DataFrame:
        """The learning-rate pilot of this sweep: every cell at every rate of ``pilot_lrs`` on the
        ``pilot_points`` ((n, targeted bits) pairs) with ``pilot_interfering`` and ``pilot_seeds``,
        trained cold with the sweep's settings (:func:`rnnviz.study.learning_rate_pilot`).

        Writes ``out/capacity_pilot.sqlite`` (resumable) and ``out/capacity_pilot.csv``; returns the
        table (one row per cell and rate; ``best`` marks each cell's choice, ``attrs["best"]`` is
        ``{cell: lr}``, the value for ``lr``). A preset of several alphabets is refused (a ValueError):
        the pilot's points are at one alphabet, so run it on ``replace(preset, alphabet=A)``.
        """
        from ._pilot import learning_rate_pilot

        if len(self.alphabets) > 1:
            raise ValueError(f"the learning-rate pilot runs at one alphabet and this preset sweeps several "
                             f"(alphabet={self.alphabet!r}): pick one, e.g. preset.pilot(...) on "
                             f"dataclasses.replace(preset, alphabet={self.alphabets[0]})")
        if not (self.pilot_lrs and self.pilot_points and self.pilot_interfering):
            raise ValueError("this preset has no pilot: give it pilot_lrs, pilot_points and pilot_interfering")
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        table = learning_rate_pilot(self.cells, self.pilot_lrs, points=self.pilot_points,
                                    interfering=self.pilot_interfering, seeds=self.pilot_seeds,
                                    alphabet=self.alphabets[0], protocol=self.protocol, train=self.train,
                                    n_test=self.n_test, store=out / "capacity_pilot.sqlite", device=device,
                                    threads=threads, workers=workers, progress=progress)
        write_text_atomically(out / "capacity_pilot.csv", table.to_csv(index=False))
        return table

    @property
    def n_models(self) -> int:
        """Models the sweep trains: cells × hidden sizes × targeted amounts × interference settings × seeds,
        each distinct model once (see :func:`rnnviz.study.sweep_specs`), summed over the alphabets."""
        return sum(grid(self.cells, self.hidden_sizes, self.targeted_amounts(a), self.interfering, self.seeds,
                        alphabet=a, protocol=self.protocol, warn=False).size for a in self.alphabets)

    def sweep(self, alphabet: int) -> dict:
        """The arguments of :func:`rnnviz.study.capacity` (and :func:`rnnviz.study.sweep_specs`) that
        sweep this preset's grid at one of its :attr:`alphabets`."""
        check_choice("alphabet", alphabet, self.alphabets)
        return dict(cells=self.cells, hidden_sizes=self.hidden_sizes, targeted_bits=self.targeted_amounts(alphabet),
                    interfering=self.interfering, seeds=self.seeds, alphabet=alphabet, train=self.train,
                    n_test=self.n_test, protocol=self.protocol, lr=self.lr, warm_start=self.warm_start,
                    hold=self.hold)

    def specs(self) -> list:
        """Every model of the sweep (:class:`~rnnviz.study.ModelSpec`), alphabet after alphabet."""
        return [s for a in self.alphabets for s in sweep_specs(**self.sweep(a))]

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
        hard_limit: float | None = None,
        on_trained: Callable[[list[dict]], None] | None = None,
        checkpoints: str | Path | None = None,
    ) -> pd.DataFrame:
        """Run (or resume) the sweep; write ``out/capacity.sqlite`` (the store), ``out/capacity.csv``
        and ``out/capacity_summary.csv`` (``rnnviz capacity`` then draws the figures).

        ``device``: "auto" (CUDA when available, else the CPU), "cpu", "cuda", …; ``threads``,
        ``workers``, ``scheduler``, ``client``: see :func:`rnnviz.study.capacity`. ``time_limit``
        (seconds): start no group after it; the files then hold the models finished so far.
        ``hard_limit`` (seconds): stop the groups in flight too, each at its next checkpoint (the next
        run resumes them; see :func:`rnnviz.study.capacity`). ``checkpoints``: the folder of the groups'
        checkpoints (default ``out/capacity.sqlite.checkpoints`` for local workers; a folder every
        worker shares, for a Dask cluster: see :func:`rnnviz.study.capacity`).
        ``on_trained``: called with the rows of the models trained now, as each group finishes.

        Several :attr:`alphabets`: one :func:`~rnnviz.study.capacity` sweep per alphabet, in order, into
        the same store; each gets what is left of ``time_limit``, and once it is spent the remaining
        alphabets train nothing (their rows finished earlier are still returned).

        Returns:
            One row per model finished (earlier or now); ``rows.attrs["n_planned"]`` is
            :attr:`n_models`, more than ``len(rows)`` when the time limit stopped the sweep.
        """
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        store = out / "capacity.sqlite"
        time_limit, hard_limit = check_limits(time_limit, hard_limit)
        start = time.monotonic()
        parts = []
        for i, alphabet in enumerate(self.alphabets):
            sweep = self.sweep(alphabet)
            spent = time.monotonic() - start if i else 0.0
            left, hard_left = (None if limit is None else limit - spent for limit in (time_limit, hard_limit))
            if any(t is not None and t <= 0 for t in (left, hard_left)):  # time is up: only the rows finished earlier
                keys = [s.key for s in sweep_specs(**sweep)]
                with Store(store, read_only=True) as db:
                    part = db.frame(keys)
                part.attrs["n_planned"] = len(keys)
            else:
                part = capacity(**sweep, store=store, device=device, client=client, scheduler=scheduler,
                                threads=threads, workers=workers, progress=progress, on_group=on_trained,
                                time_limit=left, hard_limit=hard_left, checkpoints=checkpoints)
            parts.append(part)
        filled = [part for part in parts if len(part)] or parts[:1]
        rows = filled[0] if len(filled) == 1 else pd.concat(filled, ignore_index=True)
        rows.attrs["n_planned"] = sum(part.attrs["n_planned"] for part in parts)
        write_text_atomically(out / "capacity.csv", rows.to_csv(index=False))
        write_text_atomically(out / "capacity_summary.csv", summarize(self.analysed(rows)).to_csv(index=False))
        return rows

    def plan(self, out: str | Path, *, workers: int = 1, distributed: bool = False,
             checkpoints: str | Path | None = None) -> pd.DataFrame:
        """What :meth:`run` into ``out`` would still train, without training or writing anything:
        :func:`rnnviz.study._plan.capacity_plan` of each alphabet's sweep (``out/capacity.sqlite`` read-only,
        if it exists), concatenated (``cost_share`` of the whole); ``attrs`` summed."""
        from ._plan import capacity_plan

        parts = []
        for alphabet in self.alphabets:
            sweep = self.sweep(alphabet)
            parts.append(capacity_plan(sweep_specs(**sweep), Path(out) / "capacity.sqlite", parallel=workers > 1,
                                       distributed=distributed, warm_start=sweep["warm_start"],
                                       checkpoints=checkpoints))
        plan = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        if len(parts) > 1 and plan["cost_left"].sum() > 0:  # shares of the whole
            plan["cost_share"] = plan["cost_left"] / plan["cost_left"].sum()
        plan.attrs = {name: sum(p.attrs[name] for p in parts) for name in ("n_planned", "n_done", "n_to_train")}
        return plan

    def analysed(self, rows: pd.DataFrame) -> pd.DataFrame:
        """This sweep's rows as the summaries, effects and figures read them: for a fixed-hold preset
        (``hold``) :func:`rnnviz.study.at_one_hold` (the hold, not the delay, is the setting), else the
        rows themselves."""
        return rows if self.hold is None or not len(rows) else at_one_hold(rows)


#: The training settings of the "paper" sweep (and of its "alphabet" control): cold starts, each model
#: trained to its plateau within 12,000 steps (see the comment on "paper" below).
PAPER_TRAIN = TrainConfig(steps=12_000, batch_size=64, lr=1e-2, schedule="constant", warmup=50, eval_every=100,
                          eval_batch=256, target_accuracy=0.99, plateau=0.01, plateau_window=0.2,
                          plateau_min_steps=1000, lr_drops=1, plateau_floor=0.1)

#: ``PAPER_TRAIN`` with the "combined" training curriculum and the plateau floor judged on the
#: cross-entropy bound (the "paper-combined" and "gpu" sweeps; see their comments in PRESETS).
PAPER_COMBINED_TRAIN = replace(PAPER_TRAIN, curriculum="combined", plateau_floor_score="recalled_bits_ce_bound")

#: The CPU study (issue 13): see the comment at "paper" in PRESETS.
PAPER = Preset(
    description="2-core CPU (--workers 2), 5 h 20 min over three resumed runs (measured): 7 cells x n 4-64 x 6 targeted amounts "
    "x 3 interference doses x 3 seeds, protocol 2, trained to a plateau",
    cells=("pru", "sru", "gru", "lstm", "rnn", "irc_gru", "ihc_lstm"),
    hidden_sizes=(4, 8, 16, 32, 64),
    targeted_bits=(2.0, 4.0, 8.0, 16.0, 32.0, 64.0),
    interfering=((8, 0), (8, 4), (8, 8)),
    seeds=(0, 1, 2),
    alphabet=4,
    n_test=1000,
    protocol=2,
    train=PAPER_TRAIN,
    lr={"gru": 3e-2},
    pilot_lrs=(1e-2, 3e-2),
    pilot_points=((16, 16.0), (32, 32.0)),
    pilot_interfering=((8, 4),),
    pilot_seeds=(0, 1),
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
        description="under 10 minutes on a 2-core CPU: capacity grows with state size",
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
    # store in data/capacity_paper_run/; 1,602 after a second run of 2 h 20 min; all 1,890 after a third of
    # 2 h 12 min): 5 h 20 min in all (docs/capacity.md, "Sizing").
    "paper": PAPER,
    # The alphabet-size control of the paper sweep (issue 13): K (and so the length T = 2K + 10) fixed,
    # the alphabet A varied, so the targeted bits K log2 A vary at a fixed length (in "paper" they vary
    # through K, and T with them). The paper sweep's settings and its blank dose (8, 0), so that no
    # interfering bits grow with A (random symbols from the alphabet would bring 4 log2 A bits at
    # the middle dose); its alphabet-4 models at K = 8, 16 and n = 8, 16 are the paper sweep's own
    # models (same keys). 48 ensembles of 3 seeds; the paper run's PRU and SRU
    # ensembles of 9 at n = 8, 16 took 50-140 s each at these lengths (many to the 12,000-step budget),
    # so about 30-60 minutes with two workers (estimated; its one run, 2,610 s, shared the machine, so its
    # cost on a quiet one is still not measured).
    "alphabet": Preset(
        description="alphabet-size control (targeted bits at a fixed length), 144 models: 3 cells x n 8, 16 x "
        "K 8, 16 x alphabets 2, 4, 8, 16 x blank dose (8, 0) x 3 seeds, protocol 2, the paper sweep's training; ran once "
        "in 44 minutes beside other jobs (estimate for a quiet 2-core CPU: roughly 30-60 minutes with --workers 2)",
        cells=("pru", "gru", "lstm"),
        hidden_sizes=(8, 16),
        targeted_bits=(),
        n_targets=(8, 16),
        interfering=((8, 0),),
        seeds=(0, 1, 2),
        alphabet=(2, 4, 8, 16),
        n_test=1000,
        protocol=2,
        train=PAPER_TRAIN,
        lr={"gru": 3e-2},
    ),
    # The paper sweep again with one change, the mixed training curriculum (issue 13: the paper run's
    # curves collapse past each size's peak, 300 of 315, and 11 of the 135 of its models that the curriculum
    # pilot retrained recalled less than 0.5 bit; on those 135 the curriculum left none and cut the mean
    # drop from each curve's peak to its last point from 4.6 to 1.0 bit: docs/capacity_runs.md, "The
    # curriculum pilot"). Same grid, seeds, learning rates and plateau rule as "paper", so that the two
    # compare key for key; its models' keys differ (the curriculum is hashed). Estimated 5-6 h with
    # --workers 2 (the paper run's 5 h 20 min; with this plateau rule the n = 8 pilot cost 0.89x the
    # training time of the same models without the curriculum, the patient rule 1.34x:
    # data/capacity_curriculum_scratch.csv): it spans sessions (store in
    # data/capacity_paper_mixed_run/). Its first 90 models (n = 64) rescue LSTM and IHC-LSTM at 64 bits
    # but cost GRU (32 bits) and IRC-GRU (64 bits) 8 bits of recall; superseded by "paper-combined"
    # (not resumed; docs/capacity_runs.md, "The paper-mixed run").
    "paper-mixed": replace(
        PAPER,
        description="the paper sweep trained on the mixed curriculum (K' uniform in 1..K per training "
        "sequence): 1,890 models; 90 ran, then superseded by paper-combined",
        train=replace(PAPER_TRAIN, curriculum="mixed"),
    ),
    # The paper sweep with the curriculum that keeps half of every training batch at the full K
    # ("combined", Zaremba & Sutskever 2014) and the plateau floor judged on the cross-entropy bound
    # (so that a model at chance is never "plateau": docs/capacity.md, "The plateau rule at chance").
    # Its pilot (data/capacity_combined_pilot.csv: GRU n = 64 at 32 and 64 bits, LSTM n = 64 at 64 bits,
    # 3 doses x 3 seeds) kept plain training's GRU at 32 bits where "mixed" lost 8 bits, and
    # "mixed"'s rescue of the LSTM at 64 bits (docs/capacity_runs.md, "The combined curriculum").
    # Same grid, seeds and learning rates as "paper"; ran over six resumed runs (store in
    # data/capacity_paper_combined_run/, all 1,890 models, 2026-11-30; docs/capacity_runs.md, "The paper-combined run").
    "paper-combined": replace(
        PAPER,
        description="the paper sweep trained on the combined curriculum (half of each training batch at the "
        "full K, half at K' uniform in 1..K) with the plateau floor judged on the cross-entropy bound: "
        "1,890 models, 2-core CPU --workers 2: 4 h 43 min over six resumed runs (measured; shipped in data/)",
        train=PAPER_COMBINED_TRAIN,
    ),
    # The paper-combined grid trained the way the pilots found to reach the curves' peaks (issue 13:
    # docs/capacity_runs.md, "The long cosine pilot" and its n = 64 sequel): 36,000 steps, the rate decayed by a
    # cosine to 5 %, no plateau rule (the budget is the point, and named). PRU, SRU and GRU reach their
    # peaks at n = 16 (PRU also at 32); at n = 64 PRU and GRU pass them in every seed. Every cell at 1e-2:
    # GRU's 3e-2 (the constant-rate pilots' choice) failed in 2 of 3 seeds at n = 64 over this many steps,
    # 1e-2 in none (at n = 16 and 32 GRU was piloted at 3e-2 only). The LSTM stays below its peak. Its
    # n = 4 slice ran in 57 min with two workers (378 models: every capacity about a bit higher than
    # paper-combined's, the fall past the peak unchanged; docs/capacity_runs.md, "The paper-cosine
    # run"), n = 8 in 74 min and n = 16 in 77 min (the same: capacities 1.3 and 2.4 bits higher), n = 32
    # in about 4 h 33 min over four runs (3.8 bits higher), n = 64 in 5 h 12 min over eight (4.8 bits
    # higher on average: GRU +15.6 and PRU +11.4, peaking at 64 bits (both fall at 96); LSTM +0.0): the whole
    # grid is about 13 hours of wall time with two workers, so parts (--hidden-sizes, --hard-limit) over
    # sessions, a GPU or a Dask cluster.
    "paper-cosine": replace(
        PAPER,
        lr={},
        description="the paper-combined grid trained 36,000 steps with a cosine decay of the rate, no plateau "
        "rule: the pilots' training that reaches the curves' peaks; 1,890 models; n = 4, 8, 16, 32 and 64 ran in 57, "
        "74 and 77 min, 4 h 33 min and 5 h 12 min with --workers 2 (about 13 h in all): for parts over sessions "
        "(--hidden-sizes, --hard-limit), a GPU or a Dask cluster",
        train=replace(PAPER_COMBINED_TRAIN, steps=36_000, schedule="cosine", min_lr_ratio=0.05, plateau=None),
    ),
    # The GPU sweep: the CPU study's protocol and training ("paper-combined") at larger states,
    # n = 16-256, with targeted amounts up to 256 bits (past n = 256's expected saturation: the CPU
    # study's n = 64 levels off near 30 bits). 210 ensembles of 9; not yet run or timed (at 3-5 ms a
    # step per ensemble and the CPU study's steps per model, roughly 1-2 hours of one GPU with the
    # session script's 3 processes: several GPU sessions, resumed through its store). Learning rates
    # are the CPU pilots' (1e-2; GRU 3e-2), not piloted at n = 128, 256 (`--pilot` runs that pilot).
    "gpu": replace(
        PAPER,
        description="GPU: the CPU study's protocol and training (paper-combined) at n 16-256 x 6 targeted amounts "
        "(8-256 bits) x 3 doses x 3 seeds (210 ensembles of 9; not yet timed: several GPU sessions)",
        hidden_sizes=(16, 32, 64, 128, 256),
        targeted_bits=(8.0, 16.0, 32.0, 64.0, 128.0, 256.0),
        train=PAPER_COMBINED_TRAIN,
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
