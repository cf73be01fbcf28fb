"""Training: Adam, per-member gradient clipping, a learning-rate schedule, per-member early stopping,
a progress bar (``tqdm.auto``: terminals and notebooks), metric history and checkpoints.

Ensembles train as E independent models: the loss is the *sum* of the members' losses (so each
member gets exactly its own gradient), gradients are clipped per member, Adam is elementwise (one
optimizer over the ensemble = E optimizers), and a member that reaches the target accuracy, or whose
validation score reaches a plateau, is frozen (its loss weight becomes 0 and its weights are held at
the values it stopped with). Member i of an ensemble therefore ends where the same model trained
alone on the same data would. After each evaluation in which members stopped, the stopped ones are
set aside: training goes on with an ensemble of the others (:meth:`SequenceModel.select`, their Adam
moments, schedule, plateau rules and generators carried over), so that a step costs what the members
still training cost; their weights go back into the caller's model, every member's at the end. A
checkpoint holds the whole ensemble (the set-aside members' final weights, the others' current ones)
and the state of the members still training (which they are, their Adam moments, plateau rules and
generators), so a resumed run goes on with the same smaller ensemble. The numbers are each member's
own either way: equal in float64 to rounding, in float32 to float32 rounding (a smaller batch of
matrix products may round differently).

Plateau (``config.plateau`` set): one :class:`~rnnviz.train.PlateauRule` per member reads the
member's validation score at each evaluation: the task's :attr:`~rnnviz.tasks.Task.plateau_score`
where it declares one (:class:`~rnnviz.tasks.Adding`: the MSE, ``loss``), else ``recalled_bits``
where the task reports it (:class:`~rnnviz.tasks.Memorization`), else ``accuracy``, else ``loss``
(lower is better). A
"drop" multiplies that member's learning rate by :data:`~rnnviz.train.LR_DROP`, a "stop" freezes it
(stop reason ``"plateau"``); with ``config.plateau_floor`` a member still at chance is not judged
(it trains to its budget unless it leaves chance: see :class:`~rnnviz.train.PlateauRule`). Adam's step is proportional to the learning rate and elementwise, so a
member's drop is applied exactly as the step scale ``θ ← θ_old + s_e (θ_Adam − θ_old)`` with s_e the
product of its drops (a single model takes the same path, so members still end where they would
alone); until some member drops, nothing extra runs.

Divergence: a member whose training loss at any step, or whose weights at an evaluation, are not
finite (NaN or ±inf) is stopped at that evaluation and reported as diverged (``FitResult.diverged``),
its metrics NaN: a NaN network's argmax is class 0, which would otherwise read as a plausible accuracy.
The check reads the device once per evaluation (a running flag is kept on the device between them);
the other members are unaffected (their gradients, clipping and Adam are their own).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from ..tasks import PlateauScore, Task
from ._checkpoint import (
    CheckpointMismatch,
    TrainingPaused,
    check_resumable,
    checkpoint_exists,
    dtype_name,
    read_checkpoint,
    save_checkpoint,
)
from ._config import TrainConfig
from ._loop import LR_DROP, PlateauRule, adam, adam_for_members, evaluates_after, progress_bar, update
from ._model import SequenceModel


@dataclass
class FitResult:
    """What :func:`fit` returns.

    ``history``: one dict per evaluation and member (step, member, loss, accuracy, …, lr: the
    member's learning rate, seconds). ``stopped_at``: per member, the optimizer steps it took: the
    step count at which it reached the target, plateaued or diverged (or ``steps``, the budget).
    ``reached``: per member, whether it reached the target accuracy. ``diverged``: per member, whether
    its loss or weights turned non-finite (it was then stopped; its metrics are NaN). ``plateaued``:
    per member, whether the plateau rule stopped it. ``metrics``: per member, its last validation
    metrics. ``seconds``: wall time.
    """

    history: list[dict] = field(default_factory=list)
    stopped_at: list[int] = field(default_factory=list)
    reached: list[bool] = field(default_factory=list)
    metrics: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    diverged: list[bool] = field(default_factory=list)
    plateaued: list[bool] = field(default_factory=list)

    @property
    def stop_reason(self) -> list[str]:
        """Per member, why its training stopped: ``"diverged"``, ``"target"`` (reached the target
        accuracy), ``"plateau"`` (the plateau rule stopped it) or ``"budget"`` (ran all steps)."""
        n = len(self.reached)
        diverged, plateaued = self.diverged or [False] * n, self.plateaued or [False] * n
        return ["diverged" if d else "target" if r else "plateau" if p else "budget"
                for d, r, p in zip(diverged, self.reached, plateaued, strict=True)]

    def to_frame(self):
        """The history as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.history)


# ---------------------------------------------------------------------------- data
def _batch_sampler(tasks: Sequence[Task], batch_size: int, device, dtype, per_member: bool,
                   curriculum: str | None = None) -> Callable:
    """``draw(generators) -> (inputs, targets, mask or None)``, batches on ``device`` with float ``dtype``.

    ``per_member``: member e draws from ``generators[e]`` and the batch has a leading E axis
    (``inputs (E, T, B, m)``, see :meth:`rnnviz.tasks.Task.ensemble_sampler`); otherwise one batch
    ``inputs (T, B, m)`` from ``generators[0]``, shared by every member. ``curriculum``: the task's
    training curriculum of that name instead (:meth:`rnnviz.tasks.Task.curriculum_sampler`).
    """
    if curriculum is not None:
        sampler = type(tasks[0]).curriculum_sampler(tasks if per_member else tasks[:1], batch_size, curriculum,
                                                    device, dtype)
        if per_member:
            return sampler

        def draw_one(generators):  # one member's batch, without its E axis
            inputs, targets, mask = sampler(generators[:1])
            return inputs[0], targets[0], mask[0]

        return draw_one
    if per_member:
        return type(tasks[0]).ensemble_sampler(tasks, batch_size, device, dtype)

    def draw(generators):
        inputs, targets, *mask = tasks[0].sample(batch_size, generators[0], device)
        return inputs.to(dtype), targets, mask[0] if mask else None

    return draw


def _as_list(value, n: int, name: str) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name} must have one entry per member ({n}), got {len(value)}")
        return list(value)
    return [value] * n


# ---------------------------------------------------------------------------- early stopping
class _Members:
    """Which members still train; a stopped member is held at the weights it stopped with.

    ``weight (n,)``: each member's loss weight (1 training, 0 stopped) on the parameters' device.
    ``frozen``: member → its weights when it stopped (one tensor per parameter, without the E axis).
    Only :meth:`stop` and :meth:`load_state` change them, so the training loop never has to ask the
    device which members are active.
    """

    def __init__(self, n: int, params: Sequence[torch.Tensor], ensemble: bool):
        self.params, self.ensemble = list(params), ensemble
        self.active = [True] * n
        self.frozen: dict[int, list[torch.Tensor]] = {}
        self._update()

    def stop(self, i: int) -> None:
        """Stop member ``i`` and remember its current weights."""
        self.active[i] = False
        self.frozen[i] = [(p.detach()[i] if self.ensemble else p.detach()).clone() for p in self.params]
        self._update()

    def restore(self) -> None:
        """Put the stopped members back to their weights (Adam's momentum would move them): one
        ``index_copy_`` per parameter."""
        if not self.frozen:
            return
        with torch.no_grad():
            for p, held in zip(self.params, self._held, strict=True):
                if self.ensemble:
                    p.index_copy_(0, self._index, held)  # held (F, ...) for the F stopped members
                else:
                    p.copy_(held[0])

    def state(self) -> dict:
        """Checkpoint entries: ``active (n,)`` bool and ``frozen`` keyed by ``str(member)``."""
        return {"active": torch.tensor(self.active), "frozen": {str(i): w for i, w in self.frozen.items()}}

    def load_state(self, state: dict) -> None:
        """Inverse of :meth:`state`."""
        self.active = [bool(a) for a in state["active"]]
        self.frozen = {int(i): list(ws) for i, ws in state["frozen"].items()}
        self._update()

    def _update(self) -> None:
        p = self.params[0]
        self.weight = torch.tensor(self.active, dtype=p.dtype, device=p.device)
        members = sorted(self.frozen)
        self._index = torch.tensor(members, dtype=torch.int64, device=p.device)
        per_param = zip(*(self.frozen[i] for i in members), strict=True)
        self._held = [torch.stack(ws).to(p.device) for ws in per_param]  # (F, ...) each


# ---------------------------------------------------------------------------- plateau
#: The validation score the plateau rule reads when the task declares none
#: (:attr:`rnnviz.tasks.Task.plateau_score` None): the first of these the task reports.
PLATEAU_SCORES = (PlateauScore("recalled_bits", lower_is_better=False), PlateauScore("accuracy", lower_is_better=False),
                  PlateauScore("loss", lower_is_better=True))


class _Plateau:
    """Per member: a :class:`PlateauRule` on its validation score, and its learning-rate drops.

    ``declared``: the tasks' :attr:`~rnnviz.tasks.Task.plateau_score` (None: the first of
    :data:`PLATEAU_SCORES` in the first validation row).

    ``scale (n,)``: each member's step multiplier (``LR_DROP`` per drop). :meth:`scaled` wraps one
    optimizer step: when some member has dropped, the parameters before the step are kept and each
    member's step is scaled, ``θ ← θ_old + s_e (θ_new − θ_old)`` (Adam's step is proportional to the
    learning rate: this is the step at learning rate ``s_e · lr``).
    """

    def __init__(self, config: TrainConfig, n: int, params: Sequence[torch.Tensor], ensemble: bool,
                 declared: PlateauScore | None = None):
        self.config, self.params, self.ensemble = config, list(params), ensemble
        self.declared = declared
        self.rules: list[PlateauRule] | None = None  # made at the first evaluation, once the score is known
        self.score: str | None = None
        self.scale = [1.0] * n
        self._weights = None

    def observe(self, i: int, step: int, row: dict) -> str:
        """Feed member ``i``'s validation ``row`` after ``step`` steps; "continue", "drop" or "stop"."""
        if self.config.plateau is None:
            return "continue"
        floor = self.config.plateau_floor_score  # None: the floor reads the plateau score itself
        if self.rules is None:
            chosen = self.declared or next((s for s in PLATEAU_SCORES if s.name in row), PLATEAU_SCORES[-1])
            if chosen.name not in row:
                raise ValueError(f"the task's plateau_score names {chosen.name!r}, but its score() reports "
                                 f"only {sorted(row)}")
            if floor is not None and floor not in row:
                raise ValueError(f"plateau_floor_score={floor!r}: the task's score() reports no such score "
                                 f"(it reports {sorted(row)})")
            self.score = chosen.name
            self.rules = [PlateauRule(self.config, lower_is_better=chosen.lower_is_better) for _ in self.scale]
        decision = self.rules[i].observe(step, row.get(self.score, float("nan")),
                                         None if floor is None else row.get(floor, float("nan")))
        if decision == "drop":
            self.scale[i] *= LR_DROP
            self._weights = None
        return decision

    @contextmanager
    def scaled(self):
        """Scale each member's optimizer step taken inside the block by its :attr:`scale`."""
        if all(s == 1.0 for s in self.scale):
            yield
            return
        if self._weights is None:
            p = self.params[0]
            w = torch.tensor(self.scale, dtype=p.dtype, device=p.device)
            self._weights = [w.view(-1, *([1] * (q.dim() - 1))) if self.ensemble else w[0] for q in self.params]
        before = [p.detach().clone() for p in self.params]
        yield
        with torch.no_grad():
            for p, old, w in zip(self.params, before, self._weights, strict=True):
                p.copy_(torch.lerp(old, p, w))

    def select(self, keep: Sequence[int], params: Sequence[torch.Tensor]) -> _Plateau:
        """The rules and step scales of members ``keep``, over ``params`` (their ensemble's)."""
        chosen = _Plateau(self.config, len(keep), params, self.ensemble, self.declared)
        chosen.score = self.score
        chosen.rules = None if self.rules is None else [self.rules[j] for j in keep]
        chosen.scale = [self.scale[j] for j in keep]
        return chosen

    def state(self) -> dict:
        return {"plateau_score": self.score, "lr_scale": list(self.scale),
                "plateau_rules": None if self.rules is None else [r.state() for r in self.rules]}

    def load_state(self, state: dict) -> None:
        if "lr_scale" not in state:  # a checkpoint written before the plateau rule
            return
        saved = state["plateau_score"]
        if self.declared is not None and saved is not None and saved != self.declared.name:
            raise ValueError(f"the checkpoint's plateau rule read the validation {saved!r}, this task's "
                             f"plateau_score is {self.declared.name!r}; delete the checkpoint to train from scratch")
        self.score, self.scale, self._weights = state["plateau_score"], [float(s) for s in state["lr_scale"]], None
        if state["plateau_rules"] is not None:
            self.rules = [PlateauRule(self.config) for _ in self.scale]
            for rule, rule_state in zip(self.rules, state["plateau_rules"], strict=True):
                rule.load_state(rule_state)


# ---------------------------------------------------------------------------- the working ensemble
class _Working:
    """The members that :func:`fit` still trains, and everything sized by them.

    ``ids``: their indices in the caller's model; ``model``: that model itself, or an ensemble of those
    members (:meth:`SequenceModel.select`), with its ``params``, Adam and schedule, the per-member
    stopping state (``members``, ``plateau``), the non-finite flags, the training generators and
    sampler and the validation batch. :meth:`without_stopped` sets the stopped members aside: it
    writes their weights back to the caller's model and returns the same state for the others only,
    so that an ensemble's step costs what its training members cost (each member's numbers are its
    own throughout: the members of an ensemble are independent models)."""

    def __init__(self, ids, model, optimizer, schedule, members, plateau, nonfinite, gens, draw, val, tasks,
                 per_member: bool):
        self.ids, self.model, self.per_member = list(ids), model, per_member
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer, self.schedule = optimizer, schedule
        self.members, self.plateau, self.nonfinite = members, plateau, nonfinite
        self.gens, self.draw, self.val = gens, draw, val
        by_task: dict[int, list[int]] = {}  # working positions that share a task object: scored together
        for j, i in enumerate(self.ids):
            by_task.setdefault(id(tasks[i]), []).append(j)
        self.same_task = list(by_task.values())
        # per-member batches of tasks of different lengths are padded after each member's sequences
        # (Task.ensemble_sampler): the model is told each member's length and skips the padding
        lengths = [getattr(tasks[i], "length", None) for i in self.ids]
        self.lengths = lengths if per_member and None not in lengths and len(set(lengths)) > 1 else None

    @classmethod
    def start(cls, model, tasks, config, gens, val_gens, per_member: bool, ensemble: bool) -> _Working:
        """Every member of ``model``, as :func:`fit` begins."""
        p = model.readout_weight
        params = [q for q in model.parameters() if q.requires_grad]
        optimizer, schedule = adam(params, config)
        n = len(tasks)
        draw = _batch_sampler(tasks, config.batch_size, p.device, p.dtype, per_member, config.curriculum)
        val = _batch_sampler(tasks, config.eval_batch, p.device, p.dtype, per_member)(val_gens)
        return cls(range(n), model, optimizer, schedule, _Members(n, params, ensemble=ensemble),
                   _Plateau(config, n, params, ensemble=ensemble, declared=tasks[0].plateau_score),
                   torch.zeros(n, dtype=torch.bool, device=p.device), gens, draw, val, tasks, per_member)

    def lr(self, j: int) -> float:
        """Working member j's learning rate for the next step."""
        return self.optimizer.param_groups[0]["lr"] * self.plateau.scale[j]

    def finite_members(self) -> list[bool]:
        """Per working member: no non-finite training loss so far and finite weights now (one device read)."""
        with torch.no_grad():
            ok = ~self.nonfinite
            for p in self.params:
                ok = ok & torch.isfinite(p.detach().reshape(len(self.ids), -1)).all(1)
        return ok.tolist()

    def write_back(self, model, positions: Sequence[int] | None = None) -> None:
        """Copy the weights of the working members at ``positions`` (None: all) into the caller's
        ``model`` (nothing to do while this trains ``model`` itself)."""
        if self.model is model:
            return
        positions = range(len(self.ids)) if positions is None else positions
        device = model.readout_weight.device
        source = torch.tensor(list(positions), dtype=torch.int64, device=device)
        target = torch.tensor([self.ids[j] for j in positions], dtype=torch.int64, device=device)
        with torch.no_grad():
            for dst, src in zip(model.parameters(), self.model.parameters(), strict=True):
                dst.index_copy_(0, target, src.index_select(0, source))

    def without_stopped(self, model, tasks, config) -> _Working:
        """The same training with the stopped members set aside (their weights, as they stopped,
        written back to ``model``; the others' are at the end): :meth:`select` of the active ones."""
        self.write_back(model, [j for j, active in enumerate(self.members.active) if not active])
        return self.select([j for j, active in enumerate(self.members.active) if active], tasks, config)

    def select(self, keep: Sequence[int], tasks, config) -> _Working:
        """The training of the working members at positions ``keep`` only, as an ensemble of them,
        carrying over their Adam moments, the schedule, their plateau rules and step scales, non-finite
        flags, generators and validation batch (their stopping state starts afresh: all active)."""
        ids = [self.ids[j] for j in keep]
        sub = self.model.select(keep)
        params = [p for p in sub.parameters() if p.requires_grad]
        optimizer, schedule = adam_for_members(self.optimizer, self.schedule, params, keep, config)
        p = sub.readout_weight
        index = torch.tensor(keep, device=p.device)
        if self.per_member:  # each member draws its own batches: the kept ones' generators, sampler and batch
            gens = [self.gens[j] for j in keep]
            draw = _batch_sampler([tasks[i] for i in ids], config.batch_size, p.device, p.dtype, True,
                                  config.curriculum)
            val = tuple(None if v is None else v.index_select(0, index) for v in self.val)
        else:  # one batch shared by every member
            gens, draw, val = self.gens, self.draw, self.val
        return _Working(ids, sub, optimizer, schedule, _Members(len(keep), params, ensemble=True),
                        self.plateau.select(keep, params), self.nonfinite.index_select(0, index), gens, draw, val,
                        tasks, self.per_member)


# ---------------------------------------------------------------------------- fit
def fit(
    model: SequenceModel,
    task: Task | Sequence[Task],
    config: TrainConfig | None = None,
    *,
    data_seed: int | Sequence[int] = 0,
    eval_seed: int | Sequence[int] | None = None,
    device=None,
    progress: bool = True,
    checkpoint: str | Path | None = None,
    checkpoint_every: int | None = None,
    pause_when: Callable[[], bool] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    **overrides,
) -> FitResult:
    """Train ``model`` on ``task`` with Adam; returns a :class:`FitResult`.

    Args:
        model: a :class:`~rnnviz.train.SequenceModel` (single or ensemble of E).
        task: one task (for all members) or one per member (same kind and sizes; lengths may differ
            when the tasks score with a mask, e.g. :class:`~rnnviz.tasks.Memorization` with different K).
            Members given the same task object are scored in one call of its ``score`` (pass one object
            per distinct task: an ensemble's evaluations then cost a call per task, not per member).
        config: a :class:`~rnnviz.train.TrainConfig` (its ``fit`` fields); keyword ``overrides`` replace its fields (``steps=500``).
        data_seed: seed of the training batches: one int (a single stream; for an ensemble with one
            task the batch is shared by every member) or one per member (each member draws its own
            batches, exactly as it would alone).
        eval_seed: seed(s) of the fixed validation batch (default: ``data_seed`` + 1000003).
        device: where to train (the model is moved there); batches are drawn on the CPU and moved.
        progress: show a tqdm progress bar.
        checkpoint: a path; the model, the optimizer and the training state are saved there every
            ``checkpoint_every`` steps and at the end (:func:`~rnnviz.train.save_checkpoint` with a
            ``training_state``; the metadata is the run's description and ``step``), and training
            resumes from it when it exists. A checkpoint resumes only the run that wrote it (same
            model configuration and dtype, tasks, ``TrainConfig`` and seeds; with a constant schedule
            ``steps`` may grow, which continues the run); otherwise a
            :class:`~rnnviz.train.CheckpointMismatch` (a ValueError) names what differs, before
            ``model`` is changed.
        pause_when: asked after each checkpoint written every ``checkpoint_every`` steps; when it
            returns True, ``fit`` stops there and raises :class:`~rnnviz.train.TrainingPaused` (the
            checkpoint resumes the run: a batch job's wall-time limit). Only with ``checkpoint``.
        on_progress: called as ``on_progress(step, steps)`` with the steps done and the budget
            (``config.steps``): once before training (``step`` > 0 when resumed from a checkpoint),
            after every evaluation, and at the end (``step`` then the last step trained, below the
            budget when every member stopped early). For a progress display elsewhere (a study's
            worker processes report their group's progress to the sweep's bar this way).

    Stopping, per member: ``config.target_accuracy`` (stop reason "target"), the plateau rule when
    ``config.plateau`` is set (see the module docstring; "plateau", and ``steps`` is then a budget),
    divergence ("diverged"), or the end of ``config.steps`` ("budget"); see
    :attr:`FitResult.stop_reason`.
    """
    config = replace(config or TrainConfig(), **overrides)
    if pause_when is not None and (checkpoint is None or not checkpoint_every):
        raise ValueError("pause_when needs checkpoint and checkpoint_every: a paused run resumes from its checkpoint")
    E = model.n_models
    n = 1 if E is None else E
    tasks = _as_list(task, n, "task")
    per_member = E is not None and (isinstance(data_seed, (list, tuple)) or isinstance(task, (list, tuple)))
    seeds = _as_list(data_seed, n, "data_seed")
    eval_seeds = (
        _as_list(eval_seed, n, "eval_seed") if eval_seed is not None else [s + 1_000_003 for s in seeds]
    )
    kinds = {(t.kind, t.input_size, t.output_size) for t in tasks}
    if len(kinds) > 1:
        raise ValueError(f"every member's task must have the same kind and sizes, got {sorted(kinds)}")
    declared = {t.plateau_score for t in tasks}
    if len(declared) > 1:
        raise ValueError(f"every member's task must have the same plateau_score, got {sorted(map(str, declared))}")
    if model.input_size != tasks[0].input_size or model.output_size != tasks[0].output_size:
        raise ValueError(
            f"model sizes (input {model.input_size}, output {model.output_size}) do not match the "
            f"task's (input {tasks[0].input_size}, output {tasks[0].output_size})"
        )
    if device is not None:
        model.to(device)

    def generators(member_seeds):  # one per member, or one stream shared by all
        chosen = member_seeds if per_member else member_seeds[:1]
        return [torch.Generator().manual_seed(int(s)) for s in chosen]

    val_gens = generators(eval_seeds)
    w = _Working.start(model, tasks, config, generators(seeds), val_gens, per_member, ensemble=E is not None)
    # an ensemble sets its stopped members aside (trains on as a smaller one; a checkpoint records which)
    set_aside = E is not None
    result = FitResult(stopped_at=[config.steps] * n, reached=[False] * n, metrics=[{} for _ in range(n)],
                       diverged=[False] * n, plateaued=[False] * n)
    run = _run_description(model, tasks, config, seeds, eval_seeds, per_member)
    start_step = 0
    if checkpoint is not None and checkpoint_exists(checkpoint):
        check_resumable(checkpoint, run, config)
        _, payload = read_checkpoint(checkpoint)
        state = payload["training_state"]
        working = [int(i) for i in state.get("working", range(n))]  # checkpoints before set-aside: every member
        if working != w.ids and (E is None or not working or sorted(set(working)) != working or working[-1] >= n):
            raise CheckpointMismatch(f"checkpoint {str(checkpoint)!r}: its working members {working} are not "
                                     f"members of this ensemble of {n}")
        model.load_state_dict(payload["model"])
        if working != w.ids:
            w = w.select(working, tasks, config)  # the members set aside are in model already
        w.optimizer.load_state_dict(state["optimizer"])
        w.schedule.load_state_dict(state["schedule"])
        for g, gs in zip(w.gens, state["generators"], strict=True):
            g.set_state(gs)
        start_step = state["step"]
        w.members.load_state(state)
        if "nonfinite" in state:
            w.nonfinite = state["nonfinite"].to(w.nonfinite.device)
        result = FitResult(**state["result"])
        result.diverged = list(result.diverged) or [False] * n  # checkpoints written before divergence was recorded
        result.plateaued = list(result.plateaued) or [False] * n  # ... and before the plateau rule
        w.plateau.load_state(state)

    def save(steps_done: int) -> None:
        """The checkpoint: the caller's model (every member: the working ones' weights copied into it)
        and the working members' training state, positions relative to them."""
        result.seconds = time.perf_counter() - t0
        w.write_back(model)
        state = {
            "optimizer": w.optimizer.state_dict(),
            "schedule": w.schedule.state_dict(),
            "generators": [g.get_state() for g in w.gens],
            "step": steps_done,
            "working": torch.tensor(w.ids, dtype=torch.int64),
            "nonfinite": w.nonfinite.detach().to("cpu"),
            **w.members.state(),
            **w.plateau.state(),
            "result": asdict(result),
        }
        save_checkpoint(model, checkpoint, {**run, "step": steps_done}, training_state=state)

    def evaluate(step: int) -> None:
        """Score the working members on the validation batch; stop those that reached the target,
        their plateau or a non-finite value (j: a position in the working ensemble, i: the member)."""
        for j, ok in enumerate(w.finite_members()):
            i = w.ids[j]
            if not ok and w.members.active[j]:
                w.members.stop(j)
                result.stopped_at[i], result.diverged[i] = step, True
                result.metrics[i] = {"loss": float("nan"), "accuracy": float("nan")}
                result.history.append({"step": step, "member": i, **result.metrics[i], "diverged": True,
                                       "lr": w.lr(j), "seconds": time.perf_counter() - t0})
        w.model.eval()
        with torch.no_grad():
            # (T, B, o) or (E, T, B, o); contiguous: an ensemble's readout is an outputs-first view, and
            # the scores' argmax over a strided class axis is ~5x slower than this one copy
            out = w.model(w.val[0], lengths=w.lengths).contiguous()
        w.model.train()
        rows = {}
        for same in w.same_task:
            due = [j for j in same
                   if not (result.diverged[w.ids[j]] or (not w.members.active[j] and result.metrics[w.ids[j]]))]
            if due:
                rows.update(zip(due, _score_members(tasks[w.ids[due[0]]], out, w.val, due, ensemble=E is not None,
                                                    per_member=per_member), strict=True))
        for j, row in sorted(rows.items()):
            i = w.ids[j]
            result.metrics[i] = row
            if w.members.active[j]:
                target = config.target_accuracy
                if target is not None and row.get("accuracy", -1.0) >= target:
                    w.members.stop(j)
                    result.stopped_at[i], result.reached[i] = step, True
                elif w.plateau.observe(j, step, row) == "stop":
                    w.members.stop(j)
                    result.stopped_at[i], result.plateaued[i] = step, True
            result.history.append({"step": step, "member": i, **row, "lr": w.lr(j),
                                   "seconds": time.perf_counter() - t0})

    t0 = time.perf_counter() - result.seconds
    bar = progress_bar(config.steps, f"fit {model.cell_name}", progress, initial=start_step)
    step = trained = start_step
    if on_progress is not None:
        on_progress(start_step, config.steps)
    for step in range(start_step, config.steps):
        if not any(w.members.active):  # changes only in evaluate(): no device sync here
            break
        inputs, targets, mask = w.draw(w.gens)
        losses = tasks[0].loss(w.model(inputs, lengths=w.lengths), targets, mask)  # () or (E,)
        w.nonfinite |= ~torch.isfinite(losses.detach()).reshape(-1)  # on the device: read at the next evaluation
        loss = (losses * w.members.weight).sum()
        with w.plateau.scaled():
            update(loss, w.params, w.optimizer, w.schedule, config, n_models=None if E is None else len(w.ids))
        w.members.restore()
        if evaluates_after(step, config):
            evaluate(step + 1)
            bar.set_postfix(
                loss=f"{float(losses.detach().mean()):.3f}",
                acc=f"{sum(r.get('accuracy', 0.0) for r in result.metrics if not _isnan(r)) / n:.3f}",
                done=f"{n - sum(w.members.active)}/{n}",
                **({"diverged": sum(result.diverged)} if any(result.diverged) else {}),
            )
            if set_aside and any(w.members.active) and not all(w.members.active):
                w = w.without_stopped(model, tasks, config)
            if on_progress is not None:
                on_progress(step + 1, config.steps)
        if checkpoint is not None and checkpoint_every and (step + 1) % checkpoint_every == 0:
            save(step + 1)
            if pause_when is not None and step + 1 < config.steps and any(w.members.active) and pause_when():
                bar.close()
                raise TrainingPaused(checkpoint, step + 1)
        bar.update(1)
        trained = step + 1
    bar.close()
    if not result.metrics[0]:
        evaluate(step)
    if on_progress is not None:
        on_progress(trained, config.steps)
    w.write_back(model)
    if checkpoint is not None:
        save(config.steps)
    result.seconds = time.perf_counter() - t0
    return result


def _score_members(task: Task, out: torch.Tensor, val: tuple, members: list[int], *, ensemble: bool,
                   per_member: bool) -> list[dict]:
    """The validation rows (the scalar scores, as floats) of ``members``, which share ``task``, from
    the outputs ``out`` (``(T, B, o)``, or an ensemble's ``(E, T, B, o)``) on the batch ``val`` =
    (inputs, targets, mask), in one call of ``task.score`` (:meth:`~rnnviz.tasks.Task.score` keeps
    leading axes: the same numbers as one call per member)."""
    _, t, m = val
    together = ensemble and len(members) > 1  # a lone member is scored without the members' axis
    if not ensemble:
        o = out
    elif not together:
        o = out[members[0]]
        if per_member:
            t, m = t[members[0]], None if m is None else m[members[0]]
    else:
        pick = slice(members[0], members[-1] + 1) if members == list(range(members[0], members[-1] + 1)) \
            else torch.tensor(members, device=out.device)
        o = out[pick]
        if per_member:
            t, m = t[pick], None if m is None else m[pick]
    T = task.length
    if T < o.shape[-3]:  # shorter members of a padded batch (their task scores with a mask)
        o = o[..., :T, :, :]
        t = t[:, :T] if together and per_member else t[:T]
        m = m[:, :T] if together and per_member else m[:T]
    scores = task.score(o, t, m)
    if not together:
        return [{k: float(v) for k, v in scores.items() if v.dim() == 0}]
    values = {k: v.tolist() for k, v in scores.items() if v.dim() == 1}
    return [{k: float(v[j]) for k, v in values.items()} for j in range(len(members))]


def _isnan(metrics: dict) -> bool:
    accuracy = metrics.get("accuracy", 0.0)
    return accuracy != accuracy


def _run_description(model, tasks, config, data_seeds, eval_seeds, per_member: bool) -> dict:
    """What a checkpoint must share with a run of :func:`fit` to be resumed by it (as JSON values)."""
    run = {
        "model": model.config(),
        "dtype": dtype_name(model.readout_weight.dtype),
        "tasks": [t.config() for t in tasks],
        "train": config.settings("fit"),
        "data_seed": [int(s) for s in data_seeds],
        "eval_seed": [int(s) for s in eval_seeds],
        "per_member_batches": per_member,
    }
    return json.loads(json.dumps(run))


__all__ = ["FitResult", "fit"]
