from decimal import Decimal
from pathlib import Path

from tollway.catalog import Catalog
from tollway.cli import main
from tollway.config import load_config
from tollway.cost import load_profiles, parse_mix, request_cost
from tollway.decision import Usage
from tollway.money import format_usd, round_cents, to_units
from tollway.projection import project

EXAMPLES = Path(__file__).parent.parent / "examples"
MIX = "classify=700000,customer-qa=250000,reasoning=50000"


def test_the_tutorials_per_request_costs_to_the_cent():
    catalog = Catalog.default()
    assert request_cost(catalog.get("openai-gpt-oss-20b"), Usage(94, 80)) == Decimal("0.00004070")
    assert request_cost(catalog.get("anthropic-claude-4.6-sonnet"), Usage(24, 292)) == Decimal("0.00445200")
    assert request_cost(catalog.get("openai-gpt-5"), Usage(53, 3411)) == Decimal("0.03417625")


def table():
    config = load_config(EXAMPLES / "tutorial-router.json")
    profile = load_profiles(EXAMPLES / "tutorial-profile.yaml")
    return project(
        config.router("cost-governance-demo"), config.catalog, parse_mix(MIX), profile.routes, profile.compare
    )


def cents(row):
    return [round_cents(row.per_route[r]) for r in ("classify", "customer-qa", "reasoning")] + [
        round_cents(row.total)
    ]


def test_the_monthly_table_to_the_cent():
    rows, routed = table()
    assert {r: m.slug for r, m in routed.items()} == {
        "classify": "openai-gpt-oss-20b",  # cheapest of its pool for this profile
        "customer-qa": "anthropic-claude-4.6-sonnet",  # ranked: first of the list
        "reasoning": "openai-gpt-5",
    }
    expected = {
        "routed": (["28.49", "1113.00", "1708.81", "2850.30"], None),
        "all anthropic-claude-4.6-sonnet": (["1037.40", "1113.00", "2566.20", "4716.60"], "0.396"),
        "all anthropic-claude-opus-4.7": (["1729.00", "1855.00", "4277.00", "7861.00"], "0.637"),
        "all openai-gpt-5": (["642.25", "737.50", "1708.81", "3088.56"], "0.077"),
    }
    assert [row.label for row in rows] == list(expected)
    for row in rows:
        figures, saves = expected[row.label]
        assert cents(row) == [Decimal(f) for f in figures]
        if saves is None:
            assert row.saves is None
        else:
            assert row.saves.quantize(Decimal("0.001")) == Decimal(saves)


def test_tollway_cost_prints_the_tutorial_table(capsys):
    code = main(
        [
            "cost",
            "--config",
            str(EXAMPLES / "tutorial-router.json"),
            "--profile",
            str(EXAMPLES / "tutorial-profile.yaml"),
            "--mix",
            MIX,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    routed = next(line for line in out.splitlines() if line.startswith("routed"))
    assert routed.split()[1:] == ["$28.49", "$1,113.00", "$1,708.81", "$2,850.30", "baseline"]
    for label, total, saves in [
        ("anthropic-claude-4.6-sonnet", "$4,716.60", "39.6%"),
        ("anthropic-claude-opus-4.7", "$7,861.00", "63.7%"),
        ("openai-gpt-5", "$3,088.56", "7.7%"),
    ]:
        line = next(line for line in out.splitlines() if line.startswith(f"all {label}"))
        assert line.split()[-2:] == [total, saves]


def test_tollway_cost_for_one_request(capsys):
    assert main(["cost", "--model", "openai-gpt-5", "--input", "53", "--output", "3411"]) == 0
    assert "$0.03417625" in capsys.readouterr().out


def test_money_helpers():
    assert format_usd(Decimal("2850.3025")) == "$2,850.30"
    assert format_usd(Decimal("0.005")) == "$0.01"  # half-up, as invoices round
    assert to_units(Decimal("0.00004070")) == 40_700_000
    assert to_units(Decimal("1e-13")) == 1  # never undercharge


def test_bad_mix_is_a_clear_error(capsys):
    assert (
        main(
            [
                "cost",
                "--config",
                str(EXAMPLES / "tutorial-router.json"),
                "--profile",
                str(EXAMPLES / "tutorial-profile.yaml"),
                "--mix",
                "classify=lots",
            ]
        )
        == 2
    )
    assert "expected route=count" in capsys.readouterr().err


def test_the_packaged_tutorial_matches_the_examples():
    from importlib import resources

    data = resources.files("tollway").joinpath("data/tutorial")
    assert data.joinpath("router.json").read_text() == (EXAMPLES / "tutorial-router.json").read_text()
    assert data.joinpath("profile.yaml").read_text() == (EXAMPLES / "tutorial-profile.yaml").read_text()
