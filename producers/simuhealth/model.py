"""The reference data compiled into sampling tables for the generator.

Built from ``reference`` once per country selection (generators share it): per district, the weight of every
diagnosis group (population x national share, malaria re-weighted by the
district's malaria zone so the national share is kept), which groups follow a
seasonal curve there, and facility weights; per country and group, the joint
(sex, age) distribution restricted to ages the group's ICD-10 codes allow; per
group, the codes allowed at each sex and age.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import TypeVar

from daas.errors import ConfigurationError
from producers.simuhealth.timeline import normalised
from reference import (
    OUTCOMES,
    SEVERITIES,
    District,
    Facility,
    Icd10Entry,
    ReferenceDataError,
    load_case_mix,
    load_geography,
    load_icd10,
)

__all__ = [
    "MAX_AGE",
    "SEX_AGE_STRIDE",
    "CaseModel",
    "CodeTable",
    "DistrictModel",
    "GroupModel",
    "Weighted",
    "weighted",
]

MAX_AGE = 120
SEX_AGE_STRIDE = MAX_AGE + 1  # key = sex_index * SEX_AGE_STRIDE + age, sex_index 0 = F, 1 = M
_SEXES = ("F", "M")
# Relative outpatient volume of one facility of each type within its district.
_FACILITY_WEIGHTS = {"hospital": 3.0, "health_centre": 2.0, "dispensary": 1.0}
# Share of a group's encounters that are return visits of a known patient (chronic care, antenatal care).
_RETURN_SHARE = {"hiv": 0.75, "hypertension": 0.65, "diabetes": 0.65, "tuberculosis": 0.55, "maternal": 0.5}

_K = TypeVar("_K")
# (keys, inner boundaries, total): draw keys[bisect(boundaries, random() * total)].
Weighted = tuple[tuple[_K, ...], tuple[float, ...], float]
CodeTable = Weighted[Icd10Entry]


@dataclass(frozen=True, slots=True)
class GroupModel:
    """One diagnosis group: severity, certainty and its codes by sex and age."""

    index: int
    name: str
    code_weights: Mapping[str, float]
    severity: Weighted[str]
    mild_given_not_severe: float
    confirmed_share: float
    return_share: float
    has_severe_codes: bool
    codes: tuple[CodeTable | None, ...]
    severe_codes: tuple[CodeTable | None, ...]


@dataclass(frozen=True, slots=True)
class DistrictModel:
    """One district: its facilities and the weight of every group (seasonal ones apart)."""

    index: int
    district: District
    offset_minutes: int
    facilities: Weighted[Facility]
    group_weights: tuple[float, ...]
    static_groups: Weighted[int]
    seasonal: tuple[tuple[int, float, int], ...]
    seasonal_profile_of: Mapping[int, int]


def weighted(keys: Sequence[_K], weights: Sequence[float]) -> Weighted[_K]:
    """A table to draw ``keys`` in proportion to ``weights`` with one bisect."""
    cumulative = list(accumulate(weights))
    return tuple(keys), tuple(cumulative[:-1]), cumulative[-1] if cumulative else 0.0


class CaseModel:
    """Sampling tables for the selected countries (all countries in the reference by default)."""

    def __init__(self, countries: Sequence[str] | None = None) -> None:
        geography, icd, mix = load_geography(), load_icd10(), load_case_mix()
        wanted = list(geography.countries) if countries is None else [c.strip().upper() for c in countries]
        unknown = [c for c in wanted if c not in geography.countries or c not in mix.countries]
        if unknown or not wanted:
            raise ConfigurationError(
                f"SimuHealth countries {unknown or wanted!r} are not all in the reference data; "
                f"choose from {', '.join(c for c in geography.countries if c in mix.countries)}"
            )
        self.countries = tuple(c for c in geography.countries if c in wanted)
        self.icd10 = icd
        self.geography = geography
        self.group_names = tuple(mix.groups)
        self.group_index = {name: i for i, name in enumerate(self.group_names)}
        self.age_bands = mix.age_bands
        self.severe_malaria = tuple(mix.severe_malaria_share(age) for age in range(MAX_AGE + 1))
        self.malaria = self.group_index["malaria"]
        self.outcomes = {
            severity: weighted(OUTCOMES, [mix.outcomes_by_severity[severity][o] for o in OUTCOMES])
            for severity in SEVERITIES
        }
        self.groups = tuple(self._group(i, name) for i, name in enumerate(self.group_names))
        self.profiles: list[tuple[float, ...]] = []
        self.districts = tuple(
            self._district(i, d)
            for i, d in enumerate(d for c in self.countries for d in geography.districts_of(c))
        )
        self._age_sex: dict[tuple[str, int, str | None], Weighted[int]] = {}

    def _group(self, index: int, name: str) -> GroupModel:
        spec = load_case_mix().groups[name]
        entries = [self.icd10[code] for code in spec.code_weights]
        has_severe = any(e.severe for e in entries)

        def table(severe: bool | None) -> tuple[CodeTable | None, ...]:
            cells: list[CodeTable | None] = []
            for sex in _SEXES:
                for age in range(MAX_AGE + 1):
                    allowed = [e for e in entries if e.allows(sex, age) and (severe is None or e.severe == severe)]
                    weights = [spec.code_weights[e.code] for e in allowed]
                    cells.append(weighted(allowed, weights) if allowed and sum(weights) > 0 else None)
            return tuple(cells)

        severity = spec.severity
        not_severe = severity["mild"] + severity["moderate"]
        return GroupModel(
            index=index,
            name=name,
            code_weights=spec.code_weights,
            severity=weighted(SEVERITIES, [severity[s] for s in SEVERITIES]),
            mild_given_not_severe=severity["mild"] / not_severe if not_severe else 0.0,
            confirmed_share=spec.confirmed_share,
            return_share=_RETURN_SHARE.get(name, 0.0),
            has_severe_codes=has_severe,
            codes=table(False if has_severe else None),
            severe_codes=table(True if has_severe else None),
        )

    def _profile(self, profile: Sequence[float]) -> int:
        shape = normalised(profile)
        if shape not in self.profiles:
            self.profiles.append(shape)
        return self.profiles.index(shape)

    def _district(self, index: int, district: District) -> DistrictModel:
        mix = load_case_mix()
        country = mix.countries[district.country_code]
        zones = mix.malaria_zones
        peers = self.geography.districts_of(district.country_code)
        mean_incidence = sum(d.population * zones[d.malaria_zone].relative_incidence for d in peers) / sum(
            d.population for d in peers
        )
        national = country.diagnosis_shares.get("malaria", 0.0)
        malaria_share = national * zones[district.malaria_zone].relative_incidence / mean_incidence
        if malaria_share >= 0.95:
            raise ReferenceDataError(
                f"case_mix.json: malaria would be {malaria_share:.0%} of visits in {district.district_id}; "
                "lower the national share or the zone's relative incidence"
            )
        weights = []
        for name in self.group_names:
            if name == "malaria":
                share = malaria_share
            else:
                share = country.diagnosis_shares.get(name, 0.0) * (1 - malaria_share) / (1 - national)
            weights.append(district.population * share)
        seasonal_profile_of = {self.malaria: self._profile(zones[district.malaria_zone].monthly_profile)}
        for name, spec in mix.groups.items():
            if district.malaria_zone in spec.seasonality:
                seasonal_profile_of[self.group_index[name]] = self._profile(spec.seasonality[district.malaria_zone])
        static = [g for g in range(len(weights)) if g not in seasonal_profile_of and weights[g] > 0]
        facilities = [self.geography.facilities[f] for f in district.facility_ids]
        return DistrictModel(
            index=index,
            district=district,
            offset_minutes=district.utc_offset_minutes,
            facilities=weighted(facilities, [_FACILITY_WEIGHTS[f.type] for f in facilities]),
            group_weights=tuple(weights),
            static_groups=weighted(static, [weights[g] for g in static]),
            seasonal=tuple((g, weights[g], p) for g, p in seasonal_profile_of.items() if weights[g] > 0),
            seasonal_profile_of=seasonal_profile_of,
        )

    def age_sex(self, country: str, group: int, code: str | None = None) -> Weighted[int]:
        """Joint (sex, age) keys and cumulative weights for a group's patients in a country.

        With ``code``, only sexes and ages that code allows (outbreaks of one code).
        """
        key = (country, group, code)
        cached = self._age_sex.get(key)
        if cached is not None:
            return cached
        mix = load_case_mix()
        spec, shares = mix.groups[self.group_names[group]], mix.countries[country]
        model = self.groups[group]
        entry = self.icd10[code] if code else None
        keys: list[int] = []
        weights: list[float] = []
        for band_index, band in enumerate(self.age_bands):
            per_year = shares.age_shares[band_index] / (band.max_age - band.min_age + 1)
            risk = per_year * spec.age_relative_risk[band_index]
            female = shares.female_share[band_index]
            for sex_index, sex in enumerate(_SEXES):
                sex_weight = (female if sex == "F" else 1 - female) * spec.sex_relative_risk[sex]
                for age in range(band.min_age, band.max_age + 1):
                    cell = sex_index * SEX_AGE_STRIDE + age
                    if entry is not None:
                        feasible = entry.allows(sex, age)
                    else:
                        feasible = model.codes[cell] is not None and model.severe_codes[cell] is not None
                    weight = risk * sex_weight
                    if feasible and weight > 0:
                        keys.append(cell)
                        weights.append(weight)
        if not keys:
            raise ReferenceDataError(
                f"case_mix.json: group {model.name} has no patients of any age or sex in {country}"
                + (f" for code {code}" if code else "")
            )
        table = weighted(keys, weights)
        self._age_sex[key] = table
        return table

    def code_share(self, country: str, group: int, code: str) -> float:
        """Expected share of a group's cases in a country coded ``code`` (what an outbreak multiplies)."""
        model = self.groups[group]
        cells, bounds, total = self.age_sex(country, group)
        edges = (0.0, *bounds, total)
        severe_share = dict(zip(SEVERITIES, _weights(model.severity), strict=True))["severe"]
        expected = 0.0
        for index, cell in enumerate(cells):
            if group == self.malaria:
                severe = self.severe_malaria[cell % SEX_AGE_STRIDE]
            else:
                severe = severe_share if model.has_severe_codes else 0.0
            share = (1 - severe) * _share_of(model.codes[cell], code)
            share += severe * _share_of(model.severe_codes[cell], code)
            expected += (edges[index + 1] - edges[index]) / total * share
        return expected


def _weights(table: Weighted[_K]) -> list[float]:
    _, bounds, total = table
    edges = (0.0, *bounds, total)
    return [edges[i + 1] - edges[i] for i in range(len(edges) - 1)]


def _share_of(table: CodeTable | None, code: str) -> float:
    if table is None:
        return 0.0
    return sum(w for entry, w in zip(table[0], _weights(table), strict=True) if entry.code == code) / table[2]
