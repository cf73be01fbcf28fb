"""One trained model of a capacity sweep, as data: its configuration, its key and its seeds.

A model's random seeds (initial weights, training batches, validation and test sequences) are
derived from a hash of its configuration alone, so its result does not depend on which other
models share its ensemble, on the order of the sweep or on the worker that trains it.

Three memorization protocols (see :class:`rnnviz.tasks.Memorization` and docs/capacity.md):
protocol 1, whose interference settings are ``(L, "blank"|"random")``, and protocols 2 and 3 (2 with
the position to recall named at each recall step), whose settings are doses ``(L, n_random)``:
``n_random`` of the L delay steps carry random symbols, at a fixed sequence length. Under protocols
2 and 3 the LSTM-family cells start with the forget gate's bias at :data:`PROTOCOL_2_FORGET_BIAS`.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, astuple, dataclass, field

from .. import cells as _cells
from .._checks import check_choice, check_int, check_number
from ..cells._lstm import check_forget_bias
from ..tasks import Memorization
from ..tasks._memorization import DOSE_PROTOCOLS, INTERFERENCE, check_protocol
from ..train import TrainConfig
from ._axes import read_axis

#: The forget-gate bias the LSTM-family cells start with in protocol-2 and -3 sweeps (protocol 1 keeps
#: torch.nn.LSTM's init, so its rows stay reproducible); see :class:`rnnviz.cells.LSTM`.
PROTOCOL_2_FORGET_BIAS = 1.0
#: Cells with a forget gate whose bias ``forget_bias`` sets.
FORGET_GATE_CELLS = ("lstm", "irc_lstm", "ihc_lstm")


@dataclass(frozen=True)
class ModelSpec:
    """Configuration of one model: cell, hidden size n, memorization task, seed and training settings.

    ``protocol``: the memorization protocol, 1, 2 or 3; ``n_random`` (protocols 2 and 3 only, required there):
    how many of the ``n_interfering`` delay steps carry random symbols (``interference`` is then the
    label of that dose: "blank", "mixed" or "random"). ``forget_bias``: the initial forget-gate bias
    of an LSTM-family cell (None: torch.nn.LSTM's init). ``warm_from`` (protocol 2 only): the key of
    the model of the same :attr:`chain` at the previous K whose trained weights this model starts
    from (a warm start, see :func:`rnnviz.study.sweep_specs`); None: a cold start from the seeded
    initial weights. Hashing it makes a warm model's key name its whole chain of predecessors.

    The key hashes the configuration under the names it had when the store format began
    (``hidden_size`` is hashed as ``state_size``), and hashes ``protocol``, ``n_random`` and
    ``forget_bias`` and ``warm_from`` only when they differ from their defaults, so the keys of protocol-1 models are
    those of the stores written before these fields existed, and those stores resume.
    """

    cell: str
    hidden_size: int
    alphabet: int
    n_targets: int
    n_interfering: int
    interference: str
    seed: int
    n_layers: int = 1
    train: dict = field(default_factory=dict)  # TrainConfig fields
    n_test: int = 2000
    mi_correction: str | None = "miller-madow"  # bias correction of recalled_bits (see Memorization.score)
    protocol: int = 1
    n_random: int | None = None
    forget_bias: float | None = None
    warm_from: str | None = None

    def __post_init__(self):
        if self.cell not in _cells.names():
            raise ValueError(f"cells must name cells from {list(_cells.names())}, got {self.cell!r}")
        check_protocol(self.protocol)
        if self.protocol in DOSE_PROTOCOLS and self.n_random is None:
            raise ValueError(f"protocol {self.protocol} needs n_random (0 <= n_random <= n_interfering = "
                             f"{self.n_interfering})")
        if self.forget_bias is not None:
            check_forget_bias(self.forget_bias)
            if self.cell not in FORGET_GATE_CELLS:
                raise ValueError(f"forget_bias needs a cell with a forget gate {list(FORGET_GATE_CELLS)}, "
                                 f"got cell {self.cell!r}")
        if self.warm_from is not None:
            if self.protocol != 2:
                raise ValueError(f"warm_from (a warm start) needs protocol 2, whose models have the same shapes at "
                                 f"every K; got protocol {self.protocol}")
            if not (isinstance(self.warm_from, str) and len(self.warm_from) == 16
                    and all(c in "0123456789abcdef" for c in self.warm_from)):
                raise ValueError(f"warm_from must be a model key (16 lowercase hex digits) or None, got {self.warm_from!r}")
        check_int("hidden_size", self.hidden_size)
        check_int("seed", self.seed, 0)
        check_int("n_layers", self.n_layers)
        check_int("n_test", self.n_test)
        if self.mi_correction is not None:
            check_choice("mi_correction", self.mi_correction, ("miller-madow",))
        if not isinstance(self.train, dict):
            raise TypeError(f"train must be a dict of TrainConfig fields, got {type(self.train).__name__}")
        TrainConfig(**self.train)  # validates the training settings
        self.task()  # validates K, A, L and the interference kind

    def task(self) -> Memorization:
        if self.protocol == 1:
            return Memorization(self.n_targets, self.alphabet, self.n_interfering, self.interference)
        return Memorization(self.n_targets, self.alphabet, self.n_interfering, self.interference,
                            protocol=self.protocol, n_random=self.n_random)

    def cell_options(self) -> dict:
        """Options of the model's cells (``SequenceModel(cell_options=...)``): the forget-gate bias when set."""
        return {} if self.forget_bias is None else {"forget_bias": self.forget_bias}

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def key(self) -> str:
        """SHA-256 (hex, 16 characters) of the canonical JSON of the configuration."""
        hashed = self.as_dict()
        hashed["state_size"] = hashed.pop("hidden_size")  # the key's name before 0.2.0: keys stay stable
        for name, default in _NEWER_FIELDS.items():  # hashed only when set: protocol-1 keys stay stable
            if hashed[name] == default:
                del hashed[name]
        text = json.dumps(hashed, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def derived_seed(self, purpose: str) -> int:
        """A 63-bit seed for ``purpose`` ("init", "data", "eval", "test") derived from the key."""
        digest = hashlib.sha256(f"{self.key}/{purpose}".encode()).digest()
        return int.from_bytes(digest[:8], "little") & (2**63 - 1)

    @property
    def group(self) -> tuple:
        """Models with the same group can train together as one ensemble (same architecture and training).

        Protocols 2 and 3 add the protocol, the sequence length, the input size and the cell options, so
        the members of a protocol-2 or -3 ensemble all have one length (nothing is padded: the
        interference doses of one (K, L) train together) and one input size (in protocol 3 it grows
        with K, and two (K, L) can share a length); so does a training curriculum (its batches need one length).
        Protocol 1 groups are what they always were (members of different lengths are padded and
        masked)."""
        group = (
            self.cell,
            self.hidden_size,
            self.alphabet,
            self.n_layers,
            json.dumps(self.train, sort_keys=True),
            self.n_test,
        )
        if self.protocol == 1 and self.forget_bias is None and "curriculum" not in self.train:
            return group
        task = self.task()
        return group + (self.protocol, task.length, task.input_size, json.dumps(self.cell_options(), sort_keys=True))

    @property
    def chain(self) -> tuple:
        """The warm-start chain of the model: everything in its configuration but K (``n_targets``) and
        ``warm_from``. A warm sweep trains a chain's models in ascending K, each from the previous one's
        weights (the protocol-2 model's shapes, input A + 3 and readout A, do not depend on K)."""
        return tuple(v for k, v in asdict(self).items() if k not in ("n_targets", "warm_from")
                     and not isinstance(v, dict)) + (json.dumps(self.train, sort_keys=True),)


#: ModelSpec fields newer than the store format, with the defaults under which the key leaves them out.
_NEWER_FIELDS = {"protocol": 1, "n_random": None, "forget_bias": None, "warm_from": None}


def targets_for_bits(bits: float, alphabet: int, name: str = "targeted_bits") -> int:
    """K such that ``K log2 A == bits``; a clear error (naming ``name``) when ``bits`` is not a positive,
    finite multiple of log2 A."""
    check_number(name, bits, low=0.0, low_open=True)
    per_symbol = math.log2(check_int("alphabet", alphabet, 2))
    k = round(bits / per_symbol)
    if k < 1 or abs(k * per_symbol - bits) > 1e-9:
        raise ValueError(
            f"{name} must be a positive multiple of log2(alphabet) = {per_symbol:g} "
            f"(alphabet={alphabet}), got {bits!r}"
        )
    return k


def parse_interfering(item, name: str = "interfering", protocol: int = 1) -> tuple[int, str] | tuple[int, int]:
    """One interference setting, checked. Errors name ``name``.

    Protocol 1: ``(L, "blank"|"random")`` from a tuple/list or a dict with keys n_interfering and
    interference. Protocols 2 and 3: a dose ``(L, n_random)`` from a tuple/list or a dict with keys
    n_interfering and n_random, integers with ``0 <= n_random <= L`` (``(32, 0)``: blank, ``(32, 32)``:
    random, ``(32, 8)``: 8 random symbols then 24 blanks). L must be an integer >= 0 (1.7 is refused,
    not truncated).
    """
    check_protocol(protocol)
    second = "interference" if protocol == 1 else "n_random"
    if isinstance(item, dict):
        item = (item.get("n_interfering"), item.get(second))
    shape = "(n_interfering, 'blank'|'random') pair" if protocol == 1 else "(n_interfering, n_random) pair of integers"
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise ValueError(f"{name} must be an {shape} (protocol {protocol}), got {item!r}")
    L = check_int(f"{name}: n_interfering", item[0], 0)
    if protocol == 1:
        if isinstance(item[1], int) and not isinstance(item[1], bool):
            raise ValueError(f"{name}: interference must be 'blank' or 'random' under protocol 1, got {item[1]!r}; "
                             "(n_interfering, n_random) doses need protocol 2 or 3")
        return L, check_choice(f"{name}: interference", item[1], INTERFERENCE)
    if isinstance(item[1], str):
        raise ValueError(f"{name}: n_random must be an integer in [0, n_interfering = {L}] under protocol {protocol}, got "
                         f"{item[1]!r}; write (L, 0) for blank and (L, L) for random interference")
    return L, check_int(f"{name}: n_random", item[1], 0, L)


@dataclass(frozen=True)
class Grid:
    """The axes of a sweep, each read once, checked and without duplicates: ``cells`` (names),
    ``hidden_sizes`` (n), ``n_targets`` (K of each targeted amount), ``interfering`` ((L, kind) pairs
    under protocol 1, (L, n_random) doses under protocols 2 and 3) and ``seeds``. :attr:`size` models, each once."""

    cells: tuple[str, ...]
    hidden_sizes: tuple[int, ...]
    n_targets: tuple[int, ...]
    interfering: tuple[tuple[int, str], ...]
    seeds: tuple[int, ...]

    @property
    def size(self) -> int:
        """Models in the grid: the product of the axes' lengths."""
        return math.prod(len(axis) for axis in astuple(self))


def grid(cells, hidden_sizes, targeted_bits, interfering, seeds, *, alphabet: int = 4, protocol: int = 1,
         warn: bool = True) -> Grid:
    """Check a sweep's axes and return them as a :class:`Grid`.

    Each axis may be any iterable (a list, a tuple, a range, a generator: read once) but not a string,
    and must not be empty. Entries are checked one by one (an error names the axis, the entry's index
    and value): cells from ``rnnviz.cells.names()``, hidden sizes integers >= 1, targeted bits positive
    finite multiples of log2(alphabet), interfering ``(L, "blank"|"random")`` pairs (``protocol=1``)
    or ``(L, n_random)`` doses (``protocol=2`` or ``3``, see :func:`parse_interfering`) with L an integer
    >= 0, seeds integers >= 0 (0.4 is refused, not truncated). Entries that name the same models
    (``2`` and ``2.0`` targeted bits, a repeated seed) are merged, with a warning when ``warn``:
    each model is trained, and counted, once.
    """
    check_int("alphabet", alphabet, 2)
    check_protocol(protocol)
    readers = {
        "cells": lambda name, c: check_choice(name, c, _cells.names()),
        "hidden_sizes": lambda name, n: check_int(name, n, 1),
        "targeted_bits": lambda name, b: targets_for_bits(b, alphabet, name),
        "interfering": lambda name, item: parse_interfering(item, name, protocol),
        "seeds": lambda name, seed: check_int(name, seed, 0),
    }
    given = {"cells": cells, "hidden_sizes": hidden_sizes, "targeted_bits": targeted_bits,
             "interfering": interfering, "seeds": seeds}
    bits = {"targeted_bits": lambda k: k * math.log2(alphabet)}  # K is shown as the bits it was given in
    axes = {axis: read_axis(axis, values, readers[axis], warn=warn, stacklevel=4, show=bits.get(axis))
            for axis, values in given.items()}
    return Grid(axes["cells"], axes["hidden_sizes"], axes["targeted_bits"], axes["interfering"], axes["seeds"])

