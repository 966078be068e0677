import json
from decimal import Decimal
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tollway.catalog import Catalog
from tollway.config import load_config
from tollway.errors import ConfigError

EXAMPLES = Path(__file__).parent.parent / "examples"
TUTORIAL = json.loads((EXAMPLES / "tutorial-router.json").read_text())


def body(**changes):
    data = json.loads(json.dumps(TUTORIAL))
    data.update(changes)
    return data


def test_the_tutorial_create_body_loads_verbatim():
    config = load_config(EXAMPLES / "tutorial-router.json")
    router = config.router("cost-governance-demo")
    assert router.task_names == ("classify", "customer-qa", "reasoning")
    assert router.task("classify").policy == "cheapest"
    assert router.task("customer-qa").policy == "ranked"
    assert router.task("reasoning").models == ("openai-gpt-5",)
    assert router.fallback_models == ("llama3.3-70b-instruct",)


@pytest.mark.parametrize("suffix", [".yaml", ".json", ".toml"])
def test_yaml_json_and_toml_load_the_same_router(tmp_path, suffix):
    path = tmp_path / f"router{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(TUTORIAL))
    elif suffix == ".yaml":
        import yaml

        path.write_text(yaml.safe_dump(TUTORIAL))
    else:
        path.write_text(_toml(TUTORIAL))
    assert load_config(path).routers == load_config(EXAMPLES / "tutorial-router.json").routers


def _toml(router):
    lines = [
        f'name = "{router["name"]}"',
        f"description = {json.dumps(router['description'])}",
        f"fallback_models = {json.dumps(router['fallback_models'])}",
    ]
    for policy in router["policies"]:
        task = policy["custom_task"]
        lines += ["[[policies]]", f"models = {json.dumps(policy['models'])}"]
        if "selection_policy" in policy:
            lines.append(f'selection_policy = {{ prefer = "{policy["selection_policy"]["prefer"]}" }}')
        lines += [
            "[policies.custom_task]",
            f'name = "{task["name"]}"',
            f"description = {json.dumps(task['description'])}",
        ]
    return "\n".join(lines)


def test_a_file_with_several_routers_and_model_overrides():
    config = load_config(
        {
            "models": {"my-local-llm": {"input": "0", "output": "0", "upstream": "local"}},
            "upstreams": {"local": {"base_url": "http://127.0.0.1:8080/v1"}},
            "routers": [TUTORIAL, body(name="second", fallback_models=["my-local-llm"])],
        }
    )
    assert set(config.routers) == {"cost-governance-demo", "second"}
    assert config.catalog.get("my-local-llm").upstream == "local"


def error_of(data) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(data)
    return str(info.value)


def test_a_pool_over_three_models_is_rejected_with_its_path():
    policies = TUTORIAL["policies"][:]
    policies[1] = {
        **policies[1],
        "models": ["openai-gpt-5", "openai-gpt-5-mini", "openai-gpt-5-nano", "openai-gpt-4.1"],
    }
    message = error_of(body(policies=policies))
    assert "policies[1].models" in message
    assert "at most 3 models" in message and "fallback_models" in message


def test_duplicate_task_names_are_rejected():
    policies = [TUTORIAL["policies"][0], TUTORIAL["policies"][0]]
    assert "duplicate task name 'classify'" in error_of(body(policies=policies))


def test_an_unknown_model_suggests_close_names():
    policies = TUTORIAL["policies"][:]
    policies[2] = {**policies[2], "models": ["openai-gpt5"]}
    message = error_of(body(policies=policies))
    assert "policies[2].models[0]: unknown model 'openai-gpt5'" in message
    assert "did you mean 'openai-gpt-5'" in message


def test_an_unknown_fallback_model_names_its_path():
    assert "fallback_models[0]" in error_of(body(fallback_models=["llama-3.3-70b"]))


def test_an_unknown_prefer_value_says_what_is_allowed():
    policies = TUTORIAL["policies"][:]
    policies[0] = {**policies[0], "selection_policy": {"prefer": "smartest"}}
    message = error_of(body(policies=policies))
    assert "policies[0].selection_policy.prefer" in message
    assert "'cheapest' or 'fastest'" in message


def test_an_unknown_task_slug_lists_the_presets():
    policies = TUTORIAL["policies"][:]
    policies[0] = {**policies[0], "selection_policy": {"task_slug": "poetry"}}
    assert "presets are:" in error_of(body(policies=policies))


def test_an_empty_description_is_rejected():
    policies = TUTORIAL["policies"][:]
    policies[1] = {**policies[1], "custom_task": {"name": "customer-qa", "description": "   "}}
    message = error_of(body(policies=policies))
    assert "policies[1].custom_task.description" in message and "empty" in message


def test_a_router_without_fallback_loads_with_a_warning():
    with capture_logs() as logs:
        config = load_config(body(fallback_models=[]))
    assert config.router("cost-governance-demo").fallback_models == ()
    assert any("no fallback_models" in entry["event"] for entry in logs)


def test_bad_files_give_clear_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid json"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")


def test_reframe_targets_must_be_tasks_of_the_router():
    policies = TUTORIAL["policies"][:]
    policies[2] = {**policies[2], "over_budget": "reframe", "reframe_to": "nonexistent"}
    assert "reframe_to 'nonexistent'" in error_of(body(policies=policies))


def test_the_catalog_is_checked_when_a_custom_one_is_given():
    catalog = Catalog.default().merged(
        models={"cheap": {"input": "0.01", "output": "0.01", "upstream": "openai"}}
    )
    config = load_config(body(fallback_models=["cheap"]), catalog)
    assert config.catalog.get("cheap").input_cost(1_000_000) == Decimal("0.01")
