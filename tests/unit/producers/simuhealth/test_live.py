"""Live mode: encounters stamped with the caller's clock, for the Kafka producer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastavro.validation import validate_many

from daas.errors import ConfigurationError
from producers.simuhealth import SimuHealthGenerator

from .support import parsed_schema

NOW = datetime(2026, 3, 2, 9, 30, 15, 123000, tzinfo=UTC)


def test_live_records_happen_now_and_fit_the_schema() -> None:
    records = SimuHealthGenerator(3).live(NOW, 500)
    assert len(records) == 500
    assert all(r["encounter_time"] == NOW == r["produced_at"] for r in records)
    assert validate_many(records, parsed_schema(), raise_errors=True)
    assert len({r["encounter_id"] for r in records}) == 500


def test_live_is_deterministic_for_the_same_seed_and_clock() -> None:
    def run() -> list[dict[str, object]]:
        generator = SimuHealthGenerator(3, countries=["KE", "UG"])
        return [r for second in range(5) for r in generator.live(NOW + timedelta(seconds=second), 20)]

    assert run() == run()


def test_a_restarted_live_producer_does_not_reuse_ids() -> None:
    before = SimuHealthGenerator(3).live(NOW, 200)
    after = SimuHealthGenerator(3).live(NOW + timedelta(hours=1), 200)
    assert {r["encounter_id"] for r in before}.isdisjoint(r["encounter_id"] for r in after)
    assert {r["patient"]["patient_id"] for r in before}.isdisjoint(r["patient"]["patient_id"] for r in after)


def test_live_favours_countries_whose_clinics_are_open() -> None:
    generator = SimuHealthGenerator(3, countries=["KE", "GH"])
    east_morning = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # 09:00 in Nairobi, 06:00 in Accra
    kenyan = sum(r["country_code"] == "KE" for r in generator.live(east_morning, 2_000)) / 2_000
    assert kenyan > 0.6


def test_naive_times_and_half_windows_are_rejected() -> None:
    with pytest.raises(ConfigurationError, match="timezone-aware"):
        SimuHealthGenerator(3).live(datetime(2026, 3, 2, 9, 30))
    with pytest.raises(ConfigurationError, match="both start and end"):
        SimuHealthGenerator(3, start=date(2026, 1, 1))
    with pytest.raises(ConfigurationError, match="must be before"):
        SimuHealthGenerator(3, start=date(2026, 1, 2), end=date(2026, 1, 1))
    with pytest.raises(ConfigurationError, match="needs start and end"):
        SimuHealthGenerator(3).generate(10)
    with pytest.raises(ConfigurationError, match="countries"):
        SimuHealthGenerator(3, countries=["FR"])


def test_countries_can_be_a_comma_separated_setting() -> None:
    assert SimuHealthGenerator(3, countries="ke, ug").countries == ("KE", "UG")
    assert {r["country_code"] for r in SimuHealthGenerator(3, countries="ke, ug").live(NOW, 300)} == {"KE", "UG"}
