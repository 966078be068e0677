import json
from decimal import Decimal

import pytest

from tollway.catalog import Catalog, import_litellm
from tollway.errors import ConfigError

MISSION_PRICES = {
    "openai-gpt-oss-20b": ("0.05", "0.45"),
    "anthropic-claude-4.6-sonnet": ("3.00", "15.00"),
    "openai-gpt-5": ("1.25", "10.00"),
    "anthropic-claude-opus-4.7": ("5.00", "25.00"),
}


@pytest.mark.parametrize("slug", MISSION_PRICES)
def test_the_shipped_catalog_has_the_mission_prices(slug):
    model = Catalog.default().get(slug)
    assert (model.input, model.output) == tuple(Decimal(p) for p in MISSION_PRICES[slug])


def test_catalog_entries_know_upstream_and_capabilities():
    catalog = Catalog.default()
    gpt5 = catalog.get("openai-gpt-5")
    assert gpt5.reasoning and gpt5.token_param == "max_completion_tokens"
    assert catalog.get("llama3.3-70b-instruct").token_param == "max_tokens"
    assert catalog.get("openai-gpt-oss-20b").cached_input is None  # open models have no prompt cache
    assert catalog.get("anthropic-claude-4.6-sonnet").cached_input == Decimal("0.30")  # 10% of input
    assert catalog.upstream(gpt5.upstream).api_key_env


def test_merged_overrides_field_by_field():
    catalog = Catalog.default().merged(models={"openai-gpt-5": {"input": "1.00"}})
    assert catalog.get("openai-gpt-5").input == Decimal("1.00")
    assert catalog.get("openai-gpt-5").output == Decimal("10.00")
    assert Catalog.default().get("openai-gpt-5").input == Decimal("1.25")


def test_bad_overrides_name_the_field():
    with pytest.raises(ConfigError, match=r"models\.openai-gpt-5\.input"):
        Catalog.default().merged(models={"openai-gpt-5": {"input": "cheap"}})
    with pytest.raises(ConfigError, match="unknown upstream 'nowhere'"):
        Catalog.default().merged(models={"x": {"input": 1, "output": 1, "upstream": "nowhere"}})


def test_unknown_model_suggests(monkeypatch):
    with pytest.raises(ConfigError, match="did you mean 'openai-gpt-5'"):
        Catalog.default().get("openai-gpt5")


def test_cached_tokens_are_billed_once_at_the_cached_price():
    sonnet = Catalog.default().get("anthropic-claude-4.6-sonnet")
    # 1,000 prompt tokens of which 800 cached: 200 at $3 + 800 at $0.30 per million.
    assert sonnet.input_cost(1000, cached=800) == Decimal("0.00084")


def test_litellm_price_map_import(tmp_path):
    path = tmp_path / "model_prices_and_context_window.json"
    path.write_text(
        json.dumps(
            {
                "sample_spec": {"mode": "chat"},
                "gpt-4o": {
                    "input_cost_per_token": 2.5e-06,
                    "output_cost_per_token": 1e-05,
                    "cache_read_input_token_cost": 1.25e-06,
                    "max_input_tokens": 128000,
                    "max_output_tokens": 16384,
                    "litellm_provider": "openai",
                    "mode": "chat",
                },
                "text-embedding-3-small": {
                    "input_cost_per_token": 2e-08,
                    "output_cost_per_token": 0,
                    "mode": "embedding",
                },
            }
        )
    )
    models = import_litellm(path)
    assert list(models) == ["gpt-4o"]
    catalog = Catalog.default().merged(models=models)
    gpt4o = catalog.get("gpt-4o")
    assert (gpt4o.input, gpt4o.output, gpt4o.cached_input) == (Decimal("2.5"), Decimal("10"), Decimal("1.25"))
    assert gpt4o.context_window == 128000 and gpt4o.max_output == 16384
