"""Generating text from a trained character LM."""

from __future__ import annotations

import torch

from ._model import CharLM


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
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ValueError(f"length must be a non-negative integer, got {length!r}")
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
