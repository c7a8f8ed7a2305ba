"""The shipped geography: real countries and districts, and every facility resolves."""

from __future__ import annotations

import dataclasses
import zoneinfo
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from reference import FACILITY_TYPES, MALARIA_ZONES, ReferenceDataError, UnknownReferenceError, load_geography
from reference import geography as geography_module

# Rough bounding boxes (lat_min, lat_max, lon_min, lon_max): catches swapped or mistyped coordinates.
BOXES = {
    "NG": (4.0, 14.0, 2.6, 14.7),
    "KE": (-4.8, 5.1, 33.9, 42.0),
    "GH": (4.7, 11.2, -3.3, 1.2),
    "UG": (-1.5, 4.3, 29.5, 35.1),
    "ZA": (-35.0, -22.0, 16.4, 33.0),
    "CD": (-13.5, 5.4, 12.2, 31.4),
}
ZA_ENDEMIC = {"ZA-LP-VHE", "ZA-LP-MOP", "ZA-MP-EHL", "ZA-KZN-UMK"}


def test_the_six_countries_each_have_regions_and_at_least_six_districts() -> None:
    geography = load_geography()
    assert set(BOXES) <= set(geography.countries)
    for code in BOXES:
        country = geography.country(code)
        assert len(country.region_ids) >= 3, code
        assert len(geography.districts_of(code)) >= 6, code


def test_every_facility_resolves_to_country_region_district() -> None:
    geography = load_geography()
    assert len(geography.facilities) >= 300
    for facility in geography.facilities.values():
        district = geography.district(facility.district_id)
        region = geography.region(district.region_id)
        country = geography.country(region.country_code)
        assert facility.facility_id.startswith(f"{district.district_id}-")
        assert facility.facility_id in district.facility_ids
        assert district.district_id in region.district_ids
        assert region.region_id in country.region_ids
        assert (facility.country_code, facility.region, facility.district) == (country.code, region.name, district.name)
        assert facility.type in FACILITY_TYPES
        lat_min, lat_max, lon_min, lon_max = BOXES[country.code]
        assert lat_min <= facility.lat <= lat_max and lon_min <= facility.lon <= lon_max, facility


def test_districts_have_population_zone_and_localities() -> None:
    geography = load_geography()
    for district in geography.districts.values():
        assert 10_000 <= district.population <= 10_000_000, district.district_id
        assert district.malaria_zone in MALARIA_ZONES
        assert district.localities
        assert {geography.facility(f).type for f in district.facility_ids} >= {"hospital", "dispensary"}


def test_south_africa_is_endemic_only_in_its_north_east() -> None:
    geography = load_geography()
    zones = {d.district_id: d.malaria_zone for d in geography.districts_of("ZA")}
    assert {d for d, zone in zones.items() if zone == "endemic_low"} == ZA_ENDEMIC
    assert {zone for d, zone in zones.items() if d not in ZA_ENDEMIC} == {"non_endemic"}


def test_sahel_zone_is_northern_nigeria_and_northern_ghana() -> None:
    geography = load_geography()
    sahel = {d.region_id for d in geography.districts.values() if d.malaria_zone == "sahel_west_africa"}
    assert sahel == {"NG-KN", "NG-KD", "NG-SO", "NG-BO", "GH-NP", "GH-UE", "GH-UW"}


def test_utc_offsets_agree_with_the_time_zone_database() -> None:
    geography = load_geography()
    moment = datetime(2026, 1, 15, 12)
    for district in geography.districts.values():
        offset = moment.replace(tzinfo=zoneinfo.ZoneInfo(district.timezone)).utcoffset()
        assert offset is not None
        assert offset.total_seconds() / 60 == district.utc_offset_minutes, district.district_id


def test_lookups_name_the_unknown_value_and_suggest_close_ones() -> None:
    geography = load_geography()
    with pytest.raises(UnknownReferenceError, match=r"unknown facility 'NG-LA-IKJ-01'.*NG-LA-IKJ-001"):
        geography.facility("NG-LA-IKJ-01")
    with pytest.raises(LookupError):
        geography.country("XX")
    assert geography.find_district("dala").district_id == "NG-KN-DAL"
    assert geography.find_district("UG-N-GUL").name == "Gulu"


def test_loaded_data_is_cached_and_read_only() -> None:
    geography = load_geography()
    assert load_geography() is geography
    with pytest.raises(TypeError):
        geography.facilities["NG-XX-YYY-001"] = geography.facility("NG-LA-IKJ-001")  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        geography.facility("NG-LA-IKJ-001").name = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["countries"][0]["regions"][0]["districts"][0]["facilities"][0].update(id="NG-LA-XXX-001"),
         "must be new and look like NG-LA-IKJ-001"),
        (lambda d: d["countries"][0]["regions"][0]["districts"][0].update(malaria_zone="tropical"),
         "malaria_zone 'tropical'"),
        (lambda d: d["countries"][0]["regions"][0]["districts"][0].update(population="many"),
         "population must be of type int"),
        (lambda d: d["countries"][0]["regions"][0]["districts"][0]["facilities"][0].update(type="clinic"),
         "type 'clinic'"),
    ],
)
def test_a_broken_file_is_rejected_with_the_offending_entry(
    monkeypatch: pytest.MonkeyPatch, mutate: Callable[[dict[str, Any]], None], message: str
) -> None:
    document = geography_module.read_json("geography.json")
    mutate(document)
    monkeypatch.setattr(geography_module, "read_json", lambda name: document)
    with pytest.raises(ReferenceDataError, match=message):
        geography_module.load_geography.__wrapped__()
