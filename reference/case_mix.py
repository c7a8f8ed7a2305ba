"""Epidemiology the generator follows and tests check (``data/case_mix.json``).

Per country: outpatient diagnosis shares by group and the outpatient age and sex
mix. Per diagnosis group: ICD-10 codes with weights, age and sex relative risks,
severity and certainty, seasonal profiles by malaria zone. Per malaria zone: the
relative incidence and the monthly profile. Severe malaria is ``severity ==
"severe"`` together with a code whose ``severe`` flag is set (B50.0, B50.8); its
share among malaria cases depends on age (``severe_malaria``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from reference._files import read_json
from reference.errors import ReferenceDataError
from reference.geography import MALARIA_ZONES
from reference.icd10 import load_icd10

__all__ = [
    "OUTCOMES",
    "SEVERITIES",
    "AgeBand",
    "CaseMix",
    "CountryCaseMix",
    "DiagnosisGroup",
    "MalariaZone",
    "SevereShare",
    "Source",
    "load_case_mix",
]

SEVERITIES = ("mild", "moderate", "severe")
OUTCOMES = ("treated", "referred", "admitted", "died")
_FILE = "case_mix.json"
_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class AgeBand:
    """Whole-year ages ``min_age``..``max_age`` inclusive."""

    min_age: int
    max_age: int


@dataclass(frozen=True, slots=True)
class MalariaZone:
    """Malaria transmission setting: incidence relative to perennial_high and its months."""

    name: str
    relative_incidence: float
    monthly_profile: tuple[float, ...]
    description: str


@dataclass(frozen=True, slots=True)
class SevereShare:
    """Share of malaria cases that are severe at ages ``min_age``..``max_age``."""

    min_age: int
    max_age: int
    share: float


@dataclass(frozen=True, slots=True)
class DiagnosisGroup:
    """How a diagnosis group presents: codes, who gets it, how bad, when."""

    name: str
    code_weights: Mapping[str, float]
    age_relative_risk: tuple[float, ...]
    sex_relative_risk: Mapping[str, float]
    severity: Mapping[str, float]
    confirmed_share: float
    seasonality: Mapping[str, tuple[float, ...]]


@dataclass(frozen=True, slots=True)
class CountryCaseMix:
    """A country's outpatient diagnosis shares (sum 1) and its age (sum 1) and sex mix."""

    country_code: str
    diagnosis_shares: Mapping[str, float]
    age_shares: tuple[float, ...]
    female_share: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Source:
    """Where a figure comes from."""

    id: str
    title: str
    publisher: str
    year: int
    url: str | None
    used_for: str


@dataclass(frozen=True, eq=False)
class CaseMix:
    """Everything in ``case_mix.json``, validated against the ICD-10 list."""

    age_bands: tuple[AgeBand, ...]
    groups: Mapping[str, DiagnosisGroup]
    countries: Mapping[str, CountryCaseMix]
    malaria_zones: Mapping[str, MalariaZone]
    severe_malaria: tuple[SevereShare, ...]
    outcomes_by_severity: Mapping[str, Mapping[str, float]]
    sources: tuple[Source, ...]

    def severe_malaria_share(self, age_years: int) -> float:
        """Share of malaria cases at this age that are severe."""
        for band in self.severe_malaria:
            if band.min_age <= age_years <= band.max_age:
                return band.share
        raise ReferenceDataError(f"{_FILE}: no severe-malaria share covers age {age_years}")


def _fail(message: str) -> ReferenceDataError:
    return ReferenceDataError(f"{_FILE}: {message}")


def _numbers(value: Any, where: str, length: int | None = None) -> tuple[float, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0 for v in value
    ):
        raise _fail(f"{where} must be a list of non-negative numbers")
    if length is not None and len(value) != length:
        raise _fail(f"{where} must have {length} values, got {len(value)}")
    return tuple(float(v) for v in value)


def _shares(value: Any, where: str, keys: tuple[str, ...] | None = None) -> Mapping[str, float]:
    if not isinstance(value, dict):
        raise _fail(f"{where} must be an object")
    if keys is not None and set(value) != set(keys):
        raise _fail(f"{where} must have exactly the keys {', '.join(keys)}")
    numbers = _numbers(list(value.values()), where)
    if abs(sum(numbers) - 1) > _TOLERANCE:
        raise _fail(f"{where} must sum to 1, sums to {sum(numbers):.6f}")
    return MappingProxyType(dict(zip(value, numbers, strict=True)))


def _group(name: str, raw: dict[str, Any], bands: int, icd: Mapping[str, Any]) -> DiagnosisGroup:
    where = f"groups.{name}"
    codes = raw.get("codes")
    if not isinstance(codes, dict) or not codes:
        raise _fail(f"{where}.codes must name at least one ICD-10 code")
    for code in codes:
        entry = icd.get(code)
        if entry is None or entry.group != name:
            raise _fail(f"{where}.codes: {code} is not an ICD-10 reference code of group {name}")
    seasonality = raw.get("seasonality", {})
    for zone in seasonality:
        if zone not in MALARIA_ZONES:
            raise _fail(f"{where}.seasonality: {zone!r} is not a malaria zone")
    confirmed = raw.get("confirmed_share")
    if not isinstance(confirmed, int | float) or not 0 <= confirmed <= 1:
        raise _fail(f"{where}.confirmed_share must be within 0-1")
    sex_rr = raw.get("sex_relative_risk")
    if not isinstance(sex_rr, dict) or set(sex_rr) != {"F", "M"}:
        raise _fail(f"{where}.sex_relative_risk must give F and M")
    return DiagnosisGroup(
        name=name,
        code_weights=MappingProxyType(dict(zip(codes, _numbers(list(codes.values()), f"{where}.codes"), strict=True))),
        age_relative_risk=_numbers(raw.get("age_relative_risk"), f"{where}.age_relative_risk", bands),
        sex_relative_risk=MappingProxyType(dict(zip(sex_rr, _numbers(list(sex_rr.values()), where), strict=True))),
        severity=_shares(raw.get("severity"), f"{where}.severity", SEVERITIES),
        confirmed_share=float(confirmed),
        seasonality=MappingProxyType(
            {zone: _numbers(profile, f"{where}.seasonality.{zone}", 12) for zone, profile in seasonality.items()}
        ),
    )


@functools.cache
def load_case_mix() -> CaseMix:
    """The shipped case mix, parsed and checked once per process."""
    document = read_json(_FILE)
    icd = load_icd10()
    try:
        bands = tuple(AgeBand(int(b["min_age"]), int(b["max_age"])) for b in document["age_bands"])
        for previous, band in zip(bands, bands[1:], strict=False):
            if band.min_age != previous.max_age + 1 or band.max_age < band.min_age:
                raise _fail("age_bands must be contiguous and ascending")
        if not bands or bands[0].min_age != 0:
            raise _fail("age_bands must start at age 0")
        groups = {name: _group(name, raw, len(bands), icd) for name, raw in document["groups"].items()}
        zones = {
            name: MalariaZone(
                name=name,
                relative_incidence=_numbers([raw["relative_incidence"]], f"malaria.zones.{name}")[0],
                monthly_profile=_numbers(raw["monthly_profile"], f"malaria.zones.{name}.monthly_profile", 12),
                description=str(raw["description"]),
            )
            for name, raw in document["malaria"]["zones"].items()
        }
        if set(zones) != set(MALARIA_ZONES):
            raise _fail(f"malaria.zones must describe exactly {', '.join(MALARIA_ZONES)}")
        severe = tuple(
            SevereShare(int(b["min_age"]), int(b["max_age"]), float(b["share"]))
            for b in document["malaria"]["severe_share_by_age"]
        )
        countries = {}
        for cc, raw in document["countries"].items():
            shares = _shares(raw["diagnosis_shares"], f"countries.{cc}.diagnosis_shares")
            unknown = set(shares) - set(groups)
            if unknown:
                raise _fail(f"countries.{cc} uses undescribed groups {', '.join(sorted(unknown))}")
            ages = _numbers(raw["age_shares"], f"countries.{cc}.age_shares", len(bands))
            if abs(sum(ages) - 1) > _TOLERANCE:
                raise _fail(f"countries.{cc}.age_shares must sum to 1")
            female = _numbers(raw["female_share"], f"countries.{cc}.female_share", len(bands))
            if max(female) > 1:
                raise _fail(f"countries.{cc}.female_share values must be within 0-1")
            countries[cc] = CountryCaseMix(cc, shares, ages, female)
        outcomes = {
            severity: _shares(document["outcomes_by_severity"][severity], f"outcomes_by_severity.{severity}", OUTCOMES)
            for severity in SEVERITIES
        }
        sources = tuple(
            Source(s["id"], s["title"], s["publisher"], int(s["year"]), s.get("url"), s["used_for"])
            for s in document["sources"]
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(f"missing or malformed entry: {exc!r}") from exc
    if not sources:
        raise _fail("sources must name where the figures come from")
    return CaseMix(
        age_bands=bands,
        groups=MappingProxyType(groups),
        countries=MappingProxyType(countries),
        malaria_zones=MappingProxyType(zones),
        severe_malaria=severe,
        outcomes_by_severity=MappingProxyType(outcomes),
        sources=sources,
    )
