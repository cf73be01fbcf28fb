"""One trained model of a capacity sweep, as data: its configuration, its key and its seeds.

A model's random seeds (initial weights, training batches, validation and test sequences) are
derived from a hash of its configuration alone, so its result does not depend on which other
models share its ensemble, on the order of the sweep or on the worker that trains it.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field

from .. import cells as _cells
from .._checks import check_int
from ..tasks import Memorization


@dataclass(frozen=True)
class ModelSpec:
    """Configuration of one model: cell, hidden size n, memorization task, seed and training settings.

    The key hashes the configuration under the names it had when the store format began
    (``hidden_size`` is hashed as ``state_size``), so stores written before the rename resume.
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

    def __post_init__(self):
        if self.cell not in _cells.names():
            raise ValueError(f"cells must name cells from {list(_cells.names())}, got {self.cell!r}")
        check_int("hidden_size", self.hidden_size)
        self.task()  # validates K, A, L and the interference kind

    def task(self) -> Memorization:
        return Memorization(self.n_targets, self.alphabet, self.n_interfering, self.interference)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def key(self) -> str:
        """SHA-256 (hex, 16 characters) of the canonical JSON of the configuration."""
        hashed = self.as_dict()
        hashed["state_size"] = hashed.pop("hidden_size")  # the key's name before 0.2.0: keys stay stable
        text = json.dumps(hashed, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def derived_seed(self, purpose: str) -> int:
        """A 63-bit seed for ``purpose`` ("init", "data", "eval", "test") derived from the key."""
        digest = hashlib.sha256(f"{self.key}/{purpose}".encode()).digest()
        return int.from_bytes(digest[:8], "little") & (2**63 - 1)

    @property
    def group(self) -> tuple:
        """Models with the same group can train together as one ensemble (same architecture and training)."""
        return (
            self.cell,
            self.hidden_size,
            self.alphabet,
            self.n_layers,
            json.dumps(self.train, sort_keys=True),
            self.n_test,
        )


def targets_for_bits(bits: float, alphabet: int) -> int:
    """K such that ``K log2 A == bits``; a clear error when ``bits`` is not a multiple of log2 A."""
    per_symbol = math.log2(alphabet)
    k = round(bits / per_symbol)
    if k < 1 or abs(k * per_symbol - bits) > 1e-9:
        raise ValueError(
            f"targeted_bits must be positive multiples of log2(alphabet) = {per_symbol:g} "
            f"(alphabet={alphabet}), got {bits!r}"
        )
    return k


def parse_interfering(item) -> tuple[int, str]:
    """``(L, "blank"|"random")`` from a tuple/list or a dict with keys n_interfering and interference."""
    if isinstance(item, dict):
        item = (item.get("n_interfering"), item.get("interference"))
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise ValueError(
            f"interfering must be a sequence of (n_interfering, 'blank'|'random') pairs, got {item!r}"
        )
    return int(item[0]), str(item[1])
