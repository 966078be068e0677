from decimal import Decimal

from tollway import select
from tollway.health import Health


def test_ranked_keeps_list_order():
    assert select.ranked(["b", "a", "c"]) == ["b", "a", "c"]


def test_cheapest_orders_by_cost_and_keeps_ties_in_list_order():
    costs = {"a": Decimal("0.3"), "b": Decimal("0.1"), "c": Decimal("0.1")}
    assert select.cheapest(["a", "b", "c"], costs.__getitem__) == ["b", "c", "a"]


def test_fastest_orders_by_observed_ttft():
    health = Health({"slow": 900.0, "fast": 200.0})
    assert select.fastest(["slow", "fast"], health.ttft_ms) == ["fast", "slow"]
    for _ in range(30):  # the fast one gets slow in practice
        health.success("fast", 2000.0)
    assert select.fastest(["slow", "fast"], health.ttft_ms) == ["slow", "fast"]


def test_optimal_trades_quality_against_cost_by_preset():
    costs = {"cheap": Decimal("0.001"), "strong": Decimal("0.010")}
    quality = {"cheap": 0.4, "strong": 0.95}
    reasoning = {"cheap": False, "strong": True}

    def order(slug):
        return select.optimal(
            ["strong", "cheap"],
            select.PRESETS[slug],
            costs.__getitem__,
            quality.__getitem__,
            reasoning.__getitem__,
        )

    assert order("classification") == ["cheap", "strong"]
    assert order("math-reasoning") == ["strong", "cheap"]


def test_unavailable_models_go_last_in_order():
    down = {"b"}
    assert select.healthy_first(["a", "b", "c"], lambda m: m not in down) == ["a", "c", "b"]


def test_cooldown_after_repeated_failures_and_recovery():
    now = [100.0]
    health = Health(max_failures=3, cooldown_s=30, clock=lambda: now[0])
    health.failure("m")
    health.failure("m")
    assert health.available("m")
    health.failure("m")
    assert not health.available("m")
    now[0] += 31
    assert health.available("m")
    health.success("m", 100.0)
    health.failure("m")
    assert health.available("m")  # the count restarted after the success
