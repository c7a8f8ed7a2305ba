"""The `daas` command line: options, exit codes and what it prints, without services."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from typer.testing import CliRunner

from console.main import app
from daas.errors import ConfigurationError
from producers.simuhealth import Outbreak
from producers.simuhealth.feed import FeedOptions, backfill_window, feed_stream

RUNNER = CliRunner()


def test_every_stage_is_a_daas_command_with_help() -> None:
    for command in (["produce", "simuhealth"], ["produce", "gsheet"], ["process"], ["surveil"], ["sink"],
                    ["warehouse", "load"], ["warehouse", "replicate"], ["replay"], ["dlq", "list"],
                    ["dlq", "redrive"], ["stack", "up"], ["status"], ["config"], ["topics", "create"],
                    ["healthcheck"], ["demo"]):
        result = RUNNER.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)


def test_usage_errors_exit_2_and_say_what_to_do() -> None:
    both = RUNNER.invoke(app, ["produce", "simuhealth", "--weeks", "4", "--start", "2026-01-01", "--end", "2026-02-01"])
    assert both.exit_code == 2 and "not both" in both.output
    half = RUNNER.invoke(app, ["produce", "simuhealth", "--start", "2026-01-01"])
    assert half.exit_code == 2 and "go together" in half.output
    bad = RUNNER.invoke(app, ["produce", "simuhealth", "--weeks", "4", "--records", "10", "--outbreak", "cholera:Ikeja"])
    assert bad.exit_code == 2 and "DISEASE:DISTRICT:WEEK:WEEKS:MULTIPLIER" in bad.output
    redrive = RUNNER.invoke(app, ["dlq", "redrive"])
    assert redrive.exit_code == 2 and "select what to re-drive" in redrive.output


def test_config_prints_every_setting_with_secrets_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAAS_PATIENT_KEY_SECRET", "patient-secret-that-must-not-show")
    monkeypatch.setenv("DAAS_RDS_DSN", "postgresql://daas:pg-password-hidden@rds.example:5432/daas_rds")
    result = RUNNER.invoke(app, ["config", "--json"])
    assert result.exit_code == 0, result.output
    assert "patient-secret-that-must-not-show" not in result.output and "pg-password-hidden" not in result.output
    import json

    values = json.loads(result.output)
    assert values["DAAS_PATIENT_KEY_SECRET"] == "*** (set)"
    assert values["DAAS_RDS_DSN"] == "postgresql://daas:***@rds.example:5432/daas_rds"
    assert values["DAAS_TOPIC_DLQ"] == "health.dlq.v1" and "DAAS_PROCESSING_GUARANTEE" in values


def test_outbreaks_parse_from_the_command_line_form() -> None:
    assert Outbreak.parse("cholera:Ikeja:2026W44:3:2.5") == Outbreak("cholera", "Ikeja", "2026W44", 3, 2.5)
    for bad in ("cholera:Ikeja:2026W44:3", "cholera:Ikeja:2026W44:three:2", "cholera:Ikeja:2026W44:3:0.5",
                "cholera:Ikeja:week44:3:2"):
        with pytest.raises(ConfigurationError):
            Outbreak.parse(bad)


def test_a_backfill_is_the_same_stream_for_the_same_options_with_the_share_broken() -> None:
    start, end = backfill_window(4, today=date(2026, 11, 30))
    assert (start, end) == (date(2026, 11, 2), date(2026, 11, 30))
    options = FeedOptions(seed=5, records=2000, start=start, end=end, countries=["NG", "KE"], faulty_share=0.02)
    first, again = list(feed_stream(options)), list(feed_stream(options))
    assert [(p.key, p.fault) for p in first] == [(p.key, p.fault) for p in again]
    assert {p.record["country_code"] for p in first if p.record} == {"NG", "KE"}
    faults = Counter(p.fault for p in first if p.fault)
    assert sum(faults.values()) == 40 and set(faults) == {"icd10_unknown", "encounter_date_in_future", "decode_error"}
    assert all(start <= p.record["encounter_time"].date() < end for p in first if p.record and not p.fault)
    with pytest.raises(ConfigurationError, match="--records"):
        list(feed_stream(FeedOptions(start=start, end=end)))
