"""Pins in a real Redis, shared by two processes: the second one keeps the first one's model."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

redis_server = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(
    redis_server is None, reason="redis-server is not installed (apt-get install -y redis-server)"
)

TUTORIAL = Path(__file__).parent.parent / "examples" / "tutorial-router.json"
SONNET, OSS = "anthropic-claude-4.6-sonnet", "openai-gpt-oss-20b"

# One routed call in a fresh process. Its classifier sends every prompt to `task`, so a pinned
# model that differs from that task's pool can only come from the pin in Redis.
WORKER = """
import asyncio, json, sys
from tollway import Router, RulesClassifier
from tollway.config import load_config
from tollway.stages.affinity import Affinity
from tollway_redis.affinity import RedisAffinityStore

url, config, task, tenant, session = sys.argv[1:6]

async def main():
    store = RedisAffinityStore.from_url(url)
    router = Router(load_config(config), classifier=RulesClassifier({task: "."}), simulate=True)
    async with router:
        router.pipeline.replace("affinity", Affinity(store, router.health))
        call = router.make_call([{"role": "user", "content": "Where do I find my invoices?"}],
                                tenant=tenant, session=session)
        reply = await router.handle(call)
    await store.aclose()
    print(json.dumps({"model": reply.decision.model, "pinned": reply.decision.pinned,
                      "affinity": reply.headers.get("x-tollway-affinity")}))

asyncio.run(main())
"""


def route_in_a_process(url, task, tenant, session):
    args = [sys.executable, "-c", WORKER, url, str(TUTORIAL), task, tenant, session]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_two_processes_share_pins_through_redis(redis_url):
    first = route_in_a_process(redis_url, "customer-qa", "acme", "s-1")
    assert first == {"model": SONNET, "pinned": False, "affinity": "new"}
    second = route_in_a_process(redis_url, "classify", "acme", "s-1")
    assert second == {"model": SONNET, "pinned": True, "affinity": "hit"}
    other_tenant = route_in_a_process(redis_url, "classify", "globex", "s-1")
    assert other_tenant == {"model": OSS, "pinned": False, "affinity": "new"}


async def test_redis_keeps_only_digests_and_expires_pins(redis_url):
    from redis.asyncio import Redis
    from tollway_redis.affinity import RedisAffinityStore

    from tollway.affinity import Pin, explicit_key

    one, two = RedisAffinityStore.from_url(redis_url), RedisAffinityStore.from_url(redis_url)
    try:
        salt = await one.salt()
        assert salt == await two.salt() and len(salt) == 32  # replicas agree without config
        key = explicit_key(salt, "acme", "r", "my-secret-session")
        await one.put(key, Pin(SONNET, "customer-qa", 1500, 1.0), ttl=0.3)
        assert await two.get(key) == Pin(SONNET, "customer-qa", 1500, 1.0)
        client = Redis.from_url(redis_url)
        names = [k.decode() async for k in client.scan_iter("tollway:affinity:*")]
        assert "my-secret-session" not in repr(names)
        await client.aclose()
        await anyio.sleep(0.5)
        assert await two.get(key) is None
        await one.put(key, Pin(SONNET, None), ttl=60)
        await two.delete(key)
        assert await one.get(key) is None
    finally:
        await one.aclose()
        await two.aclose()
