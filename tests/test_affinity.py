"""Session affinity end to end: a real Router on the simulated upstream, the stages inserted."""

import json
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from tollway import Router, RulesClassifier
from tollway.affinity import MemoryAffinityStore, Pin, affinity_state
from tollway.affinity.cache import cache_savings
from tollway.config import load_config
from tollway.cost import request_cost
from tollway.errors import InvalidRequest
from tollway.simulate import Fault, SimulatedProvider
from tollway.stages.affinity import Affinity, AffinityCache

TUTORIAL = json.loads((Path(__file__).parent.parent / "examples" / "tutorial-router.json").read_text())
SONNET, LLAMA, OSS = "anthropic-claude-4.6-sonnet", "llama3.3-70b-instruct", "openai-gpt-oss-20b"
QA = [{"role": "user", "content": "How do I change the email on my account?"}]
CLASSIFY = [{"role": "user", "content": "Classify this ticket: I was charged twice."}]


class Counting(RulesClassifier):
    """The rules classifier, counting how often the pipeline asks it."""

    def __init__(self):
        super().__init__({"classify": r"\b(classify|label)\b", "customer-qa": r"\b(account|plan)\b"})
        self.calls = 0

    async def classify(self, router, messages):
        self.calls += 1
        return await super().classify(router, messages)


class Clock:
    def __init__(self):
        self.now = 1_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(clock):
    return MemoryAffinityStore(timer=clock)


def make_router(store, clock, *, implicit=False, provider=None, ttl=300.0):
    config = load_config({**TUTORIAL, "implicit_affinity": implicit})
    classifier = Counting()
    router = Router(config, classifier=classifier, simulate=provider or True, timeout=2.0)
    router.counting = classifier
    router.pipeline.replace("affinity", Affinity(store, router.health, ttl=ttl, clock=clock))
    router.pipeline.replace("affinity_cache", AffinityCache(router.catalog, clock=clock))
    return router


@pytest.fixture
async def router(store, clock):
    async with make_router(store, clock) as r:
        yield r


async def call(router, messages, **options):
    return (await routed(router, messages, **options))[1]


async def routed(router, messages, **options):
    """The call (whose extras hold the affinity state) and its reply."""
    prepared = router.make_call(messages, **options)
    return prepared, await router.handle(prepared)


async def test_the_first_call_routes_and_later_calls_keep_the_model_without_classifying(router):
    first = await call(router, QA, session="s-42")
    assert first.decision.model == SONNET and not first.decision.pinned
    assert first.headers["x-tollway-affinity"] == "new"
    assert router.counting.calls == 1

    # This prompt alone would be classified to `classify` (gpt-oss); the pin keeps the session.
    second = await call(router, [*QA, {"role": "assistant", "content": "..."}, *CLASSIFY], session="s-42")
    assert router.counting.calls == 1
    decision = second.decision
    assert (decision.model, decision.route, decision.pinned) == (SONNET, "customer-qa", True)
    assert decision.candidates == [SONNET, LLAMA]
    assert second.headers["x-tollway-affinity"] == "hit"


async def test_the_session_id_is_echoed_and_read_from_the_header_too(router):
    from tollway.headers import decision_headers

    await call(router, QA, headers={"X-Model-Affinity": "s-7"})
    reply = await call(router, CLASSIFY, headers={"X-Model-Affinity": "s-7"})
    assert reply.decision.model == SONNET and reply.decision.pinned
    assert decision_headers(reply.decision)["x-model-affinity"] == "s-7"


async def test_without_a_session_id_nothing_is_pinned(router, store):
    reply = await call(router, QA)
    assert "x-tollway-affinity" not in reply.headers
    assert len(store) == 0


async def test_pins_are_scoped_by_tenant(router):
    await call(router, QA, session="s-1", tenant="acme")
    other = await call(router, CLASSIFY, session="s-1", tenant="globex")
    assert other.decision.model == OSS and not other.decision.pinned
    same = await call(router, CLASSIFY, session="s-1", tenant="acme")
    assert same.decision.model == SONNET


async def test_pins_expire_after_the_idle_ttl(router, clock):
    await call(router, QA, session="s-1")
    clock.now += 299
    assert (await call(router, CLASSIFY, session="s-1")).decision.pinned  # refreshes the pin
    clock.now += 299
    assert (await call(router, CLASSIFY, session="s-1")).decision.pinned
    clock.now += 301
    expired = await call(router, CLASSIFY, session="s-1")
    assert not expired.decision.pinned and expired.decision.model == OSS
    assert expired.headers["x-tollway-affinity"] == "new"


async def test_an_unavailable_pinned_model_re_routes_and_re_pins(router):
    await call(router, QA, session="s-1")
    for _ in range(router.health.max_failures):
        router.health.failure(SONNET)
    reply = await call(router, QA, session="s-1")
    assert reply.decision.model == LLAMA and not reply.decision.pinned
    assert reply.headers["x-tollway-affinity"] == "repinned"
    assert any("unavailable" in note for note in reply.decision.notes)
    assert router.counting.calls == 2
    after = await call(router, CLASSIFY, session="s-1")
    assert (after.decision.model, after.decision.pinned) == (LLAMA, True)


async def test_a_pinned_model_that_fails_over_is_re_pinned(router):
    await call(router, QA, session="s-1")
    router.simulator.faults[SONNET] = Fault(status=500, times=1)
    reply = await call(router, QA, session="s-1")
    assert reply.decision.model == LLAMA
    assert reply.headers["x-tollway-affinity"] == "repinned"
    assert any("re-pinned to" in note for note in reply.decision.notes)
    assert (await call(router, QA, session="s-1")).decision.model == LLAMA


async def test_a_stream_pins_when_it_ends_even_if_the_client_hangs_up(router, store):
    reply = await call(router, QA, session="s-1", stream=True)
    assert len(store) == 0  # not before the stream is read
    first = await anext(reply.stream)
    assert first["model"] == SONNET
    await reply.stream.aclose()  # the client went away
    assert len(store) == 1
    again = await call(router, CLASSIFY, session="s-1", stream=True)
    assert again.decision.pinned
    assert [c async for c in again.stream][-1]["model"] == SONNET


async def test_implicit_affinity_keys_on_the_prefix_and_stores_no_text(store, clock):
    async with make_router(store, clock, implicit=True) as router:
        system = {"role": "system", "content": "You are the secret-sauce support bot."}
        await call(router, [system, *QA])
        turn = [system, *QA, {"role": "assistant", "content": "Go to settings."}, *CLASSIFY]
        reply = await call(router, turn)
        assert reply.decision.pinned and reply.decision.model == SONNET
        changed = await call(router, [{**system, "content": "Another bot."}, *CLASSIFY])
        assert not changed.decision.pinned and changed.decision.model == OSS
    dump = repr(dict(store._pins.items()))
    assert "secret-sauce" not in dump and "email" not in dump


async def test_implicit_affinity_is_off_unless_the_router_asks(router, store):
    await call(router, QA)
    assert len(store) == 0


class Broken:
    async def salt(self):
        return b"s"

    async def get(self, key):
        raise ConnectionError("store down")

    async def put(self, key, pin, ttl):
        raise ConnectionError("store down")

    async def delete(self, key):
        pass


async def test_a_failing_store_never_fails_the_call(clock):
    async with make_router(Broken(), clock) as router:
        reply = await call(router, QA, session="s-1")
    assert reply.decision.model == SONNET
    assert any("store read failed" in note for note in reply.decision.notes)


async def test_an_overlong_session_id_is_a_client_error(router):
    with pytest.raises(InvalidRequest, match="longer than 256"):
        await call(router, QA, session="x" * 257)


LONG_SYSTEM = {"role": "system", "content": "Support policy. " + "Refunds follow the plan terms. " * 400}


async def test_pinned_estimates_use_the_cached_price_and_settlement_the_reported_cache(store, clock):
    provider = SimulatedProvider(prompt_cache=True)
    async with make_router(store, clock, provider=provider) as router:
        first = await call(router, [LONG_SYSTEM, *QA], session="s-1")
        assert first.decision.usage.cached_tokens == 0
        turn = [LONG_SYSTEM, *QA, {"role": "assistant", "content": "Settings."}, *QA]
        explained = await router.explain(turn)  # what the same call costs without a pin
        prepared, second = await routed(router, turn, session="s-1")
    decision, state = second.decision, affinity_state(prepared)
    assert state.cached_tokens >= 1024
    assert decision.estimated_cost < explained.decision.estimates[SONNET]
    assert decision.usage.cached_tokens > 0
    model = router.catalog.get(SONNET)
    assert decision.actual_cost == request_cost(model, decision.usage)
    assert cache_savings(model, decision.usage) == Decimal(decision.usage.cached_tokens) * Decimal(
        "2.70"
    ) / Decimal(1_000_000)


async def test_no_cached_share_is_assumed_once_the_cache_window_passed(store, clock):
    async with make_router(store, clock, provider=SimulatedProvider(prompt_cache=True), ttl=900) as router:
        await call(router, [LONG_SYSTEM, *QA], session="s-1")
        clock.now += 301
        prepared, second = await routed(router, [LONG_SYSTEM, *QA], session="s-1")
    assert second.decision.pinned and affinity_state(prepared).cached_tokens == 0


def test_pins_round_trip_through_json():
    pin = Pin("m", None, 12, 3.5)
    assert Pin.from_json(pin.to_json()) == pin


async def test_a_hanging_store_never_stalls_a_call():
    class Hanging:
        """A store whose every call hangs, as a partitioned Redis would."""

        async def salt(self):
            await anyio.sleep(3600)

        async def get(self, key):
            await anyio.sleep(3600)

        async def put(self, key, pin, ttl):
            await anyio.sleep(3600)

        async def delete(self, key):
            await anyio.sleep(3600)

    router = Router(
        load_config(TUTORIAL), classifier=RulesClassifier({"customer-qa": "account"}), simulate=True
    )
    router.pipeline.replace("affinity", Affinity(Hanging(), router.health, write_timeout=0.2))
    async with router:
        with anyio.fail_after(10):
            completion = await router.chat(
                [{"role": "user", "content": "How do I close my account?"}], session="s-1"
            )
    assert completion.content
    assert any("store read failed" in note for note in completion.decision.notes)
