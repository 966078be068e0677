"""Provider prompt caches: how long they stay warm and how much of a prompt they can hold.

A pinned session sends each new turn to the model that served the last one, whose cache likely
still holds the last prompt. These rules turn that into a number of cached prompt tokens for
estimates; settlement uses the upstream's reported ``cached_tokens`` instead.

Published behaviour the defaults follow (check your provider's current docs):

- OpenAI: prompts of 1,024+ tokens are cached automatically, in 128-token blocks; an idle cache is
  kept 5-10 minutes (up to an hour off-peak). Cached input bills at 50% (or less) of input.
- Anthropic: cache reads bill at about 10% of input; the default cache lives 5 minutes and each
  hit refreshes it; the minimum cacheable prompt is 1,024 tokens on Sonnet and Opus.
- Models whose catalog entry has no ``cached_input`` price have no cache: nothing is assumed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from ..catalog import ModelSpec
from ..decision import Usage
from ..money import PER_MILLION, ZERO

# Pins outlive a call by this long unless configured: the common provider cache window.
DEFAULT_TTL = 300.0


@dataclass(frozen=True)
class CacheRule:
    min_tokens: int = 1024
    step: int = 128
    window_s: float = DEFAULT_TTL

    def cacheable(self, tokens: int) -> int:
        """How many of ``tokens`` prefix tokens a cache would serve."""
        if tokens < self.min_tokens:
            return 0
        return tokens - tokens % self.step


RULES: Mapping[str, CacheRule] = MappingProxyType(
    {
        "openai": CacheRule(min_tokens=1024, step=128, window_s=300.0),
        "anthropic": CacheRule(min_tokens=1024, step=1, window_s=300.0),
    }
)
DEFAULT_RULE = CacheRule()


def rule_for(model: ModelSpec, rules: Mapping[str, CacheRule] = RULES) -> CacheRule | None:
    """The model's cache rule, or None when the catalog prices no cached input for it."""
    if model.cached_input is None:
        return None
    return rules.get(model.provider, DEFAULT_RULE)


def likely_cached(rule: CacheRule, last_prompt: int, prompt: int, idle_s: float) -> int:
    """Cached tokens expected when a ``prompt``-token call follows a ``last_prompt``-token call on
    the same model ``idle_s`` seconds later: the shared prefix, if the cache is still warm."""
    if idle_s > rule.window_s:
        return 0
    return rule.cacheable(min(last_prompt, prompt))


def cache_savings(model: ModelSpec, usage: Usage) -> Decimal:
    """What the cached prompt tokens saved against the full input price."""
    if model.cached_input is None or not usage.cached_tokens:
        return ZERO
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    return Decimal(cached) * (model.input - model.cached_input) / PER_MILLION
