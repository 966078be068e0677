"""structlog setup: JSON lines in production, secrets masked."""

import json

import structlog

from tollway.telemetry import configure_logging, redact


def test_json_logs_with_secrets_masked(capsys):
    try:
        configure_logging(json=True)
        structlog.get_logger("tollway").info(
            "tollway.call", api_key="sk-1", extra={"Authorization": "x"}, n=1
        )
    finally:
        structlog.reset_defaults()
    line = json.loads(capsys.readouterr().err.strip())
    assert line["event"] == "tollway.call" and line["level"] == "info" and line["n"] == 1
    assert line["api_key"] == "[redacted]" and line["extra"]["Authorization"] == "[redacted]"
    assert "timestamp" in line


def test_the_level_filters_events(capsys):
    try:
        configure_logging(json=False, level="warning")
        log = structlog.get_logger("tollway")
        log.info("hidden")
        log.warning("shown")
    finally:
        structlog.reset_defaults()
    err = capsys.readouterr().err
    assert "shown" in err and "hidden" not in err


def test_redact_leaves_other_fields_alone():
    assert redact(None, "info", {"a": 1, "token": "t"}) == {"a": 1, "token": "[redacted]"}
