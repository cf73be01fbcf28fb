"""Character corpora: a vocabulary, contiguous train/valid/test splits and TBPTT batches.

Batching for truncated backpropagation through time (TBPTT): a split of N characters
``c_0 … c_{N−1}`` is cut into B contiguous streams of L = ⌊(N − 1)/B⌋ inputs each; stream b reads
``c_{bL} … c_{(b+1)L−1}`` and predicts the next character of each. Batch k holds steps
``[kT, (k+1)T)`` of every stream, so the state at the end of batch k is the right initial state for
batch k + 1 (the last batch may be shorter than T). The ``R = N − 1 − BL`` inputs after the streams
are the *remainder*: they continue the last stream, so an evaluation that reads them after the
streams predicts every character of the split except the first exactly once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import torch

from .._checks import check_int


def default_corpus_path() -> Path:
    """The Tiny Shakespeare text shipped in the repository (``data/tinyshakespeare.txt``)."""
    path = Path(__file__).resolve().parents[2] / "data" / "tinyshakespeare.txt"
    if not path.is_file():
        raise FileNotFoundError(f"the default corpus {path} is missing; pass the path of a text file instead")
    return path


class CharVocab:
    """A character vocabulary: ``chars[i]`` is the character with id i.

    Args:
        chars: the distinct characters, in id order (a string or a sequence of 1-character strings).
    """

    def __init__(self, chars):
        if isinstance(chars, str):
            chars = list(chars)
        chars = list(chars)
        if not chars:
            raise ValueError("chars must contain at least one character, got an empty vocabulary")
        bad = [c for c in chars if not isinstance(c, str) or len(c) != 1]
        if bad:
            raise ValueError(f"chars must be single characters, got {bad[:5]!r}")
        if len(set(chars)) != len(chars):
            raise ValueError("chars must be distinct, got repeated characters "
                             f"{sorted({c for c in chars if chars.count(c) > 1})!r}")
        self.chars: str = "".join(chars)
        self._index = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        """The sorted set of characters occurring in ``text``."""
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other) -> bool:
        return isinstance(other, CharVocab) and other.chars == self.chars

    def __hash__(self) -> int:
        return hash(self.chars)

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} characters)"

    def encode(self, text: str) -> torch.Tensor:
        """Character ids of ``text``: a ``(len(text),)`` int64 tensor."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        missing = sorted(set(text) - set(self._index))
        if missing:
            raise ValueError(f"text contains characters outside the vocabulary: {missing[:10]!r}")
        return torch.tensor([self._index[c] for c in text], dtype=torch.long)

    def decode(self, ids) -> str:
        """The text of a 1-d sequence of ids (tensor or list of ints)."""
        ids = torch.as_tensor(ids)
        if ids.dim() != 1:
            raise ValueError(f"ids must be 1-dimensional, got shape {tuple(ids.shape)}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= len(self)):
            raise ValueError(f"ids must lie in [0, {len(self)}), got values in "
                             f"[{int(ids.min())}, {int(ids.max())}]")
        return "".join(self.chars[i] for i in ids.tolist())


def stream_length(n_chars: int, batch_size: int) -> int:
    """L = ⌊(N − 1)/B⌋: inputs per stream when N characters are cut into B streams."""
    return (n_chars - 1) // batch_size


def contiguous_batches(ids: torch.Tensor, batch_size: int, seq_len: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """TBPTT batches of B contiguous streams over a 1-d id sequence (see the module docstring).

    Args:
        ids: ``(N,)`` character ids.
        batch_size: B, the number of parallel streams.
        seq_len: T, the number of steps per batch (truncation length of backpropagation).

    Yields:
        ``(x, y)``, both ``(T_k, B)`` int64 with ``y[t, b]`` the character after ``x[t, b]``;
        ``T_k = T`` except possibly for the last batch.
    """
    check_int("batch_size", batch_size)
    check_int("seq_len", seq_len)
    L = stream_length(len(ids), batch_size)
    if L < 1:
        raise ValueError(f"a sequence of {len(ids)} characters is too short for batch_size={batch_size} "
                         f"streams (each needs at least 2 characters)")
    x_all = ids[: batch_size * L].view(batch_size, L).t()  # (L, B): column b is stream b
    y_all = ids[1: batch_size * L + 1].view(batch_size, L).t()  # (L, B)
    for start in range(0, L, seq_len):
        yield x_all[start: start + seq_len], y_all[start: start + seq_len]


def remainder(ids: torch.Tensor, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The inputs and targets left after :func:`contiguous_batches`: ``(x, y)`` of shape ``(R,)``.

    They continue stream B − 1: read them from that stream's final state.
    """
    L = stream_length(len(ids), batch_size)
    start = batch_size * L
    return ids[start:-1], ids[start + 1:]


class CharCorpus:
    """A text as character ids, split into contiguous train / valid / test parts.

    The text is cut in order: the first ``split[0]`` fraction is train, the next ``split[1]`` is
    valid, the rest is test, so no character appears in two splits. The vocabulary is the set of
    characters of the whole text (so valid and test never contain unknown characters) unless
    ``vocab`` is given.

    Args:
        path: a UTF-8 text file; None for ``data/tinyshakespeare.txt``. Ignored when ``text`` is given.
        text: the text itself, instead of a file.
        split: fractions (train, valid, test), positive, summing to 1.
        max_chars: use only the first ``max_chars`` characters (quick experiments, tests).
        vocab: a :class:`CharVocab` (or its characters) to use instead of the text's own.

    Attributes:
        vocab: the :class:`CharVocab`; ``train``, ``valid``, ``test``: ``(N_split,)`` int64 ids.
    """

    SPLITS = ("train", "valid", "test")

    def __init__(self, path=None, *, text: str | None = None, split=(0.9, 0.05, 0.05),
                 max_chars: int | None = None, vocab=None):
        if text is None:
            path = default_corpus_path() if path is None else Path(path)
            if not Path(path).is_file():
                raise FileNotFoundError(f"path {str(path)!r} is not a file")
            text = Path(path).read_text(encoding="utf-8")
        elif not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        self.path = None if path is None else Path(path)
        if max_chars is not None:
            text = text[: check_int("max_chars", max_chars)]
        fractions = tuple(split)
        if len(fractions) != 3 or any(not isinstance(f, (int, float)) or not f > 0 for f in fractions) \
                or not math.isclose(sum(fractions), 1.0, abs_tol=1e-9):
            raise ValueError(f"split must be three positive fractions (train, valid, test) summing to 1, "
                             f"got {split!r}")
        n = len(text)
        n_train = int(round(fractions[0] * n))
        n_valid = int(round(fractions[1] * n))
        if min(n_train, n_valid, n - n_train - n_valid) < 2:
            raise ValueError(f"the text has {n} characters: too short for split={split!r} "
                             f"(each split needs at least 2 characters)")
        self.text = text
        if vocab is None:
            self.vocab = CharVocab.from_text(text)
        else:
            self.vocab = vocab if isinstance(vocab, CharVocab) else CharVocab(vocab)
        ids = self.vocab.encode(text)
        self.bounds = {"train": (0, n_train), "valid": (n_train, n_train + n_valid),
                       "test": (n_train + n_valid, n)}
        self.train, self.valid, self.test = (ids[a:b] for a, b in self.bounds.values())

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={len(self.ids(s))}" for s in self.SPLITS)
        return f"CharCorpus({len(self.vocab)} characters; {sizes})"

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def ids(self, split: str) -> torch.Tensor:
        """The ``(N_split,)`` ids of "train", "valid" or "test"."""
        if split not in self.SPLITS:
            raise ValueError(f"split must be one of {list(self.SPLITS)}, got {split!r}")
        return getattr(self, split)

    def split_text(self, split: str) -> str:
        """The text of one split."""
        self.ids(split)
        a, b = self.bounds[split]
        return self.text[a:b]

    def batches(self, split: str, batch_size: int, seq_len: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """TBPTT batches ``(x, y)`` of shape ``(T, B)`` over one split (see :func:`contiguous_batches`)."""
        return contiguous_batches(self.ids(split), batch_size, seq_len)

    def unigram(self, split: str = "train", *, smoothing: float = 1.0) -> torch.Tensor:
        """Character frequencies of a split with add-``smoothing`` counts: ``(V,)`` probabilities."""
        if not smoothing >= 0:
            raise ValueError(f"smoothing must be non-negative, got {smoothing!r}")
        counts = torch.bincount(self.ids(split), minlength=self.vocab_size).double() + smoothing
        return counts / counts.sum()

    def unigram_bpc(self, split: str = "test", *, fit: str = "train", smoothing: float = 1.0) -> float:
        """Bits per character of the unigram baseline: −(1/(N−1)) Σ_i log2 p(c_i) over the predicted
        characters c_1 … c_{N−1} of ``split``, with p the (smoothed) unigram of ``fit``.

        This is what a model that ignores its input and always predicts p scores under :func:`evaluate_bpc`.
        """
        p = self.unigram(fit, smoothing=smoothing)
        targets = self.ids(split)[1:]
        return float(-torch.log2(p[targets]).mean())


CHARACTER_CLASSES = ("lowercase", "uppercase", "space", "newline", "punctuation", "digit", "other")


def character_class(c: str) -> str:
    """The class of one character, one of :data:`CHARACTER_CLASSES` (used to colour state trajectories)."""
    if c == "\n":
        return "newline"
    if c.isspace():
        return "space"
    if c.isalpha():
        return "lowercase" if c.islower() else "uppercase"
    if c.isdigit():
        return "digit"
    if c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~":
        return "punctuation"
    return "other"
