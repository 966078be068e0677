"""Affinity keys, the memory store, cache rules and the store registry."""

import pytest

from tollway.affinity import (
    CacheRule,
    MemoryAffinityStore,
    Pin,
    explicit_key,
    implicit_key,
    likely_cached,
    open_store,
    rule_for,
)
from tollway.affinity.keys import header, prompt_prefix
from tollway.catalog import Catalog
from tollway.errors import ConfigError

SALT = b"s" * 32
SYSTEM = {"role": "system", "content": "You are a support bot."}
USER = {"role": "user", "content": "Where are my invoices?"}


def test_explicit_keys_are_scoped_by_tenant_and_router_and_salted():
    key = explicit_key(SALT, "acme", "r", "s-1")
    assert key == explicit_key(SALT, "acme", "r", "s-1")
    assert key != explicit_key(SALT, "globex", "r", "s-1")
    assert key != explicit_key(SALT, "acme", "other", "s-1")
    assert key != explicit_key(b"t" * 32, "acme", "r", "s-1")
    assert "s-1" not in key and len(key) == 33


def test_separators_cannot_be_forged_across_fields():
    assert explicit_key(SALT, "a:b", "r", "c") != explicit_key(SALT, "a", "b:r", "c")


def test_implicit_keys_follow_system_tools_and_first_user_message():
    base = implicit_key(SALT, "acme", "r", [SYSTEM, USER])
    later_turns = [
        SYSTEM,
        USER,
        {"role": "assistant", "content": "Here."},
        {"role": "user", "content": "Thanks"},
    ]
    assert implicit_key(SALT, "acme", "r", later_turns) == base
    assert implicit_key(SALT, "acme", "r", [{**SYSTEM, "content": "Other."}, USER]) != base
    assert implicit_key(SALT, "acme", "r", [SYSTEM, USER], tools=[{"type": "function"}]) != base
    assert implicit_key(SALT, "globex", "r", [SYSTEM, USER]) != base
    assert implicit_key(SALT, "acme", "r", [SYSTEM]) is None  # nothing to anchor on
    assert prompt_prefix([SYSTEM, USER]) == {
        "system": ["You are a support bot."],
        "tools": None,
        "user": USER["content"],
    }


def test_headers_are_read_case_insensitively():
    assert header({"X-Model-Affinity": "s"}, "x-model-affinity") == "s"
    assert header({}, "x-model-affinity") is None


async def test_memory_pins_live_for_their_own_idle_ttl():
    now = [0.0]
    store = MemoryAffinityStore(timer=lambda: now[0])
    await store.put("a", Pin("m", "t"), ttl=10)
    await store.put("b", Pin("m", "t"), ttl=100)
    now[0] = 50
    assert await store.get("a") is None and await store.get("b") == Pin("m", "t")
    await store.delete("b")
    assert len(store) == 0
    assert await store.salt() == await store.salt()


def test_cache_rules_by_provider():
    catalog = Catalog.default()
    assert rule_for(catalog.get("llama3.3-70b-instruct")) is None  # no prompt cache
    openai = rule_for(catalog.get("openai-gpt-5"))
    assert openai == CacheRule(min_tokens=1024, step=128)
    assert likely_cached(openai, 1000, 5000, idle_s=10) == 0  # under the minimum
    assert likely_cached(openai, 1300, 5000, idle_s=10) == 1280
    assert likely_cached(openai, 1300, 5000, idle_s=301) == 0  # the cache went cold
    assert likely_cached(rule_for(catalog.get("anthropic-claude-4.6-sonnet")), 1300, 1200, idle_s=1) == 1200


def test_open_store():
    assert isinstance(open_store("memory://"), MemoryAffinityStore)
    with pytest.raises(ConfigError, match="no affinity store for 'nope'"):
        open_store("nope://x")
