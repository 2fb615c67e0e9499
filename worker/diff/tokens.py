"""Token estimates from character counts, corrected by what the provider reports.

No tokenizer ships with the product (Kimi's is not on PyPI, and a chunk plan
only needs to be roughly right), so tokens are estimated as characters
divided by a ratio. Every answer carries `usage.prompt_tokens`; feeding it to
`observe` moves the ratio toward what this provider and this kind of code
really give. The estimator is an immutable value: the caller keeps it (per
worker, or stored in Redis) and passes it in, so chunking stays pure.

A review must chunk with ONE estimator from start to end: chunk ids hash the
chunk's content, and a different ratio would cut different chunks.
"""

from __future__ import annotations

import math
from typing import Final

import msgspec

# Source code runs about 3.5-4 characters per token on BPE vocabularies of
# Kimi's size; starting below that errs toward smaller chunks until usage
# reports come in.
DEFAULT_CHARS_PER_TOKEN: Final = 3.2
MIN_CHARS_PER_TOKEN: Final = 1.0
MAX_CHARS_PER_TOKEN: Final = 8.0
# Exponential moving average weight once a few observations are in; the first
# observations are averaged plainly so one odd prompt cannot dominate.
STEADY_WEIGHT: Final = 0.2


class TokenEstimator(msgspec.Struct, frozen=True):
    """Characters per token, learned from the provider's usage reports."""

    chars_per_token: float = DEFAULT_CHARS_PER_TOKEN
    observations: int = 0

    def estimate(self, chars: int) -> int:
        """Tokens that `chars` characters are expected to cost (rounded up)."""
        return math.ceil(chars / self.chars_per_token)

    def chars_for(self, tokens: int) -> int:
        """Characters that fit in `tokens` tokens (rounded down)."""
        return math.floor(tokens * self.chars_per_token)

    def observe(self, prompt_chars: int, prompt_tokens: int) -> TokenEstimator:
        """A new estimator moved toward the ratio one request really had."""
        if prompt_chars <= 0 or prompt_tokens <= 0:
            return self
        measured = min(max(prompt_chars / prompt_tokens, MIN_CHARS_PER_TOKEN), MAX_CHARS_PER_TOKEN)
        weight = max(STEADY_WEIGHT, 1.0 / (self.observations + 1))
        ratio = self.chars_per_token + weight * (measured - self.chars_per_token)
        return TokenEstimator(chars_per_token=ratio, observations=self.observations + 1)
