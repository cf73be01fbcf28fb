"""A character language model around any rnnviz cell: embedding → cell → linear readout.

.. math::
    e_t = E[c_t], \\qquad (y_t, s_t) = \\text{cell}(e_t, s_{t-1}), \\qquad
    p(c_{t+1} \\mid c_{\\le t}) = \\text{softmax}(W y_t + b)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .. import cells
from .._checks import check_int
from ..cells import count_parameters
from ..tasks import CharVocab


@dataclass
class LMConfig:
    """What defines a :class:`CharLM`; JSON-serialisable (``dataclasses.asdict``).

    Args:
        cell: a name from ``rnnviz.cells.names()``.
        hidden_size: n, units of the cell.
        vocab: the characters, in id order (a string).
        embedding_size: size of the character embedding; None means ``hidden_size`` (IRC/IHC cells
            need the two equal, and equal sizes keep comparisons between cells simple).
        dropout: dropout on the embedding and on the cell's output while training.
        cell_options: extra keyword options for ``rnnviz.cells.make``.
    """

    cell: str
    hidden_size: int
    vocab: str
    embedding_size: int | None = None
    dropout: float = 0.0
    cell_options: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.cell not in cells.names():
            raise ValueError(f"cell must be one of {list(cells.names())}, got {self.cell!r}")
        for name in ("hidden_size", "embedding_size"):
            v = getattr(self, name)
            if v is None and name == "embedding_size":
                continue
            check_int(name, v)
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        CharVocab(self.vocab)  # checks the characters

    @property
    def embedding_dim(self) -> int:
        return self.hidden_size if self.embedding_size is None else self.embedding_size

    def to_dict(self) -> dict:
        return asdict(self)


class CharLM(nn.Module):
    """Character-level language model: ``logits, s = model(ids, s0)``.

    Shapes: ids ``(T, B)`` int64, s0 ``(B, cell.state_size)`` or None (zeros); logits ``(T, B, V)``,
    s the final flat state ``(B, cell.state_size)``.

    Parameters: V·e (embedding) + the cell's + (out·V + V) (readout), out = ``cell.output_size``.
    """

    def __init__(self, config: LMConfig, *, device=None, dtype=None):
        super().__init__()
        if not isinstance(config, LMConfig):
            raise TypeError(f"config must be an LMConfig, got {type(config).__name__}")
        self.config = config
        self.vocab = CharVocab(config.vocab)
        V, e = len(self.vocab), config.embedding_dim
        factory = {"device": device, "dtype": dtype}
        self.embedding = nn.Embedding(V, e, **factory)
        self.cell = cells.make(config.cell, e, config.hidden_size, **config.cell_options, **factory)
        self.readout = nn.Linear(self.cell.output_size, V, **factory)
        self.dropout = nn.Dropout(config.dropout)

    @property
    def state_size(self) -> int:
        return self.cell.state_size

    def initial_state(self, batch_size: int) -> torch.Tensor:
        """Zeros ``(B, state_size)``."""
        return self.cell.initial_state(batch_size)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Embedded characters ``(T, B, e)`` (the cell's inputs), with dropout when training."""
        if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long:
            got = ids.dtype if isinstance(ids, torch.Tensor) else type(ids).__name__
            raise TypeError(f"ids must be an int64 tensor of character ids, got {got}")
        if ids.dim() != 2:
            raise ValueError(f"ids must have shape (T, B), got {tuple(ids.shape)}")
        return self.dropout(self.embedding(ids))

    def forward(self, ids: torch.Tensor, s0: torch.Tensor | None = None):
        x = self.embed(ids)  # (T, B, e)
        y, s = self.cell(x, s0)  # (T, B, out), (B, S)
        return self.readout(self.dropout(y)), s  # (T, B, V)


def lm_parameter_count(cell: str, hidden_size: int, vocab_size: int, *, embedding_size: int | None = None,
                       cell_options: dict | None = None) -> int:
    """Parameters of a :class:`CharLM`, counted with ``rnnviz.count_parameters`` on the meta device
    (nothing is allocated)."""
    config = LMConfig(cell, hidden_size, "".join(chr(0x100 + i) for i in range(vocab_size)),
                      embedding_size=embedding_size, cell_options=dict(cell_options or {}))
    return count_parameters(CharLM(config, device="meta"))


def hidden_size_for_budget(cell: str, parameter_budget: int, vocab_size: int, *,
                           embedding_size: int | None = None, cell_options: dict | None = None,
                           max_hidden_size: int = 8192) -> int:
    """The hidden size n whose :class:`CharLM` parameter count is closest to ``parameter_budget``
    (ties go to the smaller n). The count grows with n, so this is a bisection.
    """
    check_int("parameter_budget", parameter_budget)

    def count(n: int) -> int:
        return lm_parameter_count(cell, n, vocab_size, embedding_size=embedding_size, cell_options=cell_options)

    lo, hi = 1, max_hidden_size
    if count(hi) < parameter_budget:
        raise ValueError(f"parameter_budget={parameter_budget} needs a {cell} larger than "
                         f"max_hidden_size={max_hidden_size} ({count(hi)} parameters)")
    while lo < hi:  # smallest n with count(n) >= budget
        mid = (lo + hi) // 2
        if count(mid) >= parameter_budget:
            hi = mid
        else:
            lo = mid + 1
    if lo > 1 and parameter_budget - count(lo - 1) <= count(lo) - parameter_budget:
        return lo - 1
    return lo


def hidden_size_for_state(cell: str, state_size: int, *, cell_options: dict | None = None) -> int:
    """The hidden size n whose cell carries a flat state of ``state_size`` numbers.

    A cell's flat state grows by the same amount k per unit (k = 1 for most cells, 2 for the
    LSTM-family cells, which carry [h; c]), so n = state_size / k; an error when k does not divide
    ``state_size``. This is the sizing of an "equal state size" comparison.
    """
    check_int("state_size", state_size)

    def state(n: int) -> int:
        config = LMConfig(cell, n, "ab", cell_options=dict(cell_options or {}))
        return CharLM(config, device="meta").state_size

    per_unit = state(2) - state(1)
    if per_unit < 1 or state(1) != per_unit:
        raise ValueError(f"cell {cell!r} does not carry a state proportional to its hidden size "
                         f"({state(1)} numbers at n = 1, {state(2)} at n = 2)")
    if state_size % per_unit:
        raise ValueError(f"state_size must be a multiple of {per_unit} for {cell!r} (it carries {per_unit} "
                         f"numbers per unit), got {state_size}")
    return state_size // per_unit


@torch.no_grad()
def sample(model: CharLM, length: int = 200, *, prime: str = "\n", temperature: float = 1.0,
           seed: int = 0) -> str:
    """Text continuing ``prime``: the model reads the prime, then draws one character at a time.

    Each character is drawn from softmax(logits / temperature); ``temperature=0`` takes the most likely
    character (greedy). The draws use their own generator seeded by ``seed``, so the global random
    state is untouched and the same seed gives the same text.

    Returns:
        ``prime`` followed by ``length`` generated characters.
    """
    if not isinstance(model, CharLM):
        raise TypeError(f"model must be a CharLM, got {type(model).__name__}")
    check_int("length", length, 0)
    if not isinstance(temperature, (int, float)) or temperature < 0:
        raise ValueError(f"temperature must be a non-negative number, got {temperature!r}")
    if not isinstance(prime, str) or not prime:
        raise ValueError(f"prime must be a non-empty string (the model needs a first character), got {prime!r}")
    device = next(model.parameters()).device
    ids = model.vocab.encode(prime).to(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        logits, state = model(ids.view(-1, 1))  # (P, 1, V)
        out = []
        for _ in range(length):
            last = logits[-1, 0]  # (V,)
            if temperature == 0:
                nxt = last.argmax().view(1)
            else:
                probs = torch.softmax(last.double() / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=gen)
            out.append(int(nxt))
            logits, state = model(nxt.view(1, 1), state)  # (1, 1, V)
    finally:
        model.train(was_training)
    return prime + model.vocab.decode(out)
