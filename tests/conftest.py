"""Shared fixtures: the simulated upstream served on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from replicas import RedisServer
from tollway.simulate import SimulatedProvider, SimulatorServer


@pytest.fixture
def sim_provider() -> SimulatedProvider:
    """The provider behind ``sim_server``; override this fixture to configure it."""
    return SimulatedProvider()


@pytest.fixture
def sim_server(sim_provider: SimulatedProvider) -> Iterator[tuple[str, SimulatedProvider]]:
    """``(base_url, provider)`` of a simulator on a free loopback port, stopped after the test."""
    with SimulatorServer(sim_provider) as base_url:
        yield base_url, sim_provider


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """Commands under test configure structlog globally; give every test the defaults back."""
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh ``redis-server`` (no persistence) on a free loopback port for one test module."""
    if RedisServer.binary() is None:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    with RedisServer(tmp_path_factory.mktemp("redis")) as url:
        yield url
