"""Text generation from a trained GPT, deterministic for a given seed."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from trainer.model import GPT
from trainer.tokenizer import TokenEncoder


@torch.no_grad()
def generate(
    model: GPT,
    tokenizer: TokenEncoder,
    prompt: str,
    max_new_tokens: int,
    temperature: float = 0.8,
    top_k: int | None = 40,
    seed: int = 0,
) -> str:
    """The continuation of `prompt` (without the prompt), `max_new_tokens` tokens long.

    The context starts with EOT, as every document after the first does in
    training, so an empty prompt samples the start of a document. A private
    `torch.Generator` makes the output a function of (weights, prompt, seed).
    temperature=0 is greedy decoding.

    Raises:
        ValueError: negative max_new_tokens or temperature, or top_k < 1.
    """
    if max_new_tokens < 0 or temperature < 0 or (top_k is not None and top_k < 1):
        raise ValueError("need max_new_tokens >= 0, temperature >= 0 and top_k >= 1")
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    ids = [tokenizer.eot, *tokenizer.encode(prompt, eot=False)]
    idx = torch.tensor([ids], dtype=torch.long, device=device)  # (1, T)
    was_training = model.training
    model.eval()
    try:
        new = _sample(model, idx, max_new_tokens, temperature, top_k, gen)
    finally:
        model.train(was_training)
    return tokenizer.decode(new)


def _sample(
    model: GPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float,
    top_k: int | None,
    gen: torch.Generator,
) -> list[int]:
    out: list[int] = []
    for _ in range(max_new_tokens):
        ctx = idx[:, -model.config.block_size :]  # (1, <=block_size)
        logits, _ = model(ctx)
        logits = logits[:, -1, :]  # (1, V)
        if temperature == 0:
            nxt = logits.argmax(dim=-1, keepdim=True)  # (1, 1)
        else:
            logits = logits / temperature
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("inf")
            probs = F.softmax(logits, dim=-1)
            nxt = torch.multinomial(probs, num_samples=1, generator=gen)  # (1, 1)
        idx = torch.cat((idx, nxt), dim=1)
        out.append(int(nxt.item()))
    return out
