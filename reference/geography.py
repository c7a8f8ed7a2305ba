"""Country › region › district › facility hierarchy (``data/geography.json``).

Producers draw facilities from it; processors validate every record's facility,
region and district against it (``load_geography().facilities[facility_id]``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

from reference._files import read_json
from reference.errors import ReferenceDataError, UnknownReferenceError

__all__ = [
    "FACILITY_TYPES",
    "MALARIA_ZONES",
    "Country",
    "District",
    "Facility",
    "Geography",
    "Region",
    "load_geography",
]

FACILITY_TYPES = ("dispensary", "health_centre", "hospital")
MALARIA_ZONES = (
    "sahel_west_africa",
    "perennial_high",
    "seasonal_moderate",
    "highland_low",
    "endemic_low",
    "non_endemic",
)
_FILE = "geography.json"
_CODE = re.compile(r"^[A-Z]{1,3}$")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Country:
    """A country (ISO 3166-1 alpha-2 ``code``) and the ids of its regions."""

    code: str
    name: str
    timezone: str
    utc_offset_minutes: int
    region_kind: str
    district_kind: str
    region_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Region:
    """A first-level subdivision (state, county, region, province); id ``NG-LA``."""

    region_id: str
    code: str
    name: str
    country_code: str
    timezone: str
    utc_offset_minutes: int
    district_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class District:
    """A second-level unit (LGA, sub-county, district, health zone); id ``NG-LA-IKJ``."""

    district_id: str
    code: str
    name: str
    country_code: str
    region_id: str
    region: str
    population: int
    malaria_zone: str
    lat: float
    lon: float
    timezone: str
    utc_offset_minutes: int
    localities: tuple[str, ...]
    facility_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Facility:
    """A health facility; ``region`` and ``district`` are the names records carry."""

    facility_id: str
    name: str
    type: str
    lat: float
    lon: float
    country_code: str
    region_id: str
    region: str
    district_id: str
    district: str


@dataclass(frozen=True, eq=False)
class Geography:
    """Read-only indexes of the hierarchy, each in file order."""

    countries: Mapping[str, Country]
    regions: Mapping[str, Region]
    districts: Mapping[str, District]
    facilities: Mapping[str, Facility]

    def country(self, code: str) -> Country:
        """The country with this ISO code, or :class:`UnknownReferenceError`."""
        return _lookup(self.countries, "country", code)

    def region(self, region_id: str) -> Region:
        """The region with this id (``NG-LA``)."""
        return _lookup(self.regions, "region", region_id)

    def district(self, district_id: str) -> District:
        """The district with this id (``NG-LA-IKJ``)."""
        return _lookup(self.districts, "district", district_id)

    def facility(self, facility_id: str) -> Facility:
        """The facility with this id (``NG-LA-IKJ-001``)."""
        return _lookup(self.facilities, "facility", facility_id)

    def districts_of(self, country_code: str) -> tuple[District, ...]:
        """Every district of a country, in file order."""
        country = self.country(country_code)
        return tuple(
            self.districts[d] for r in country.region_ids for d in self.regions[r].district_ids
        )

    def find_district(self, id_or_name: str) -> District:
        """A district by id or by its (case-insensitive, unambiguous) name."""
        if id_or_name in self.districts:
            return self.districts[id_or_name]
        wanted = id_or_name.strip().casefold()
        matches = [d for d in self.districts.values() if d.name.casefold() == wanted]
        if len(matches) == 1:
            return matches[0]
        if matches:
            ids = ", ".join(d.district_id for d in matches)
            raise UnknownReferenceError("district", id_or_name, (), hint=f"the name is ambiguous: use one of {ids}")
        return _lookup(self.districts, "district", id_or_name)


def _lookup(index: Mapping[str, _T], kind: str, key: str) -> _T:
    try:
        return index[key]
    except KeyError:
        raise UnknownReferenceError(kind, key, index.keys()) from None


def _field(obj: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = obj.get(key)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ReferenceDataError(
            f"{_FILE}: {where}.{key} must be of type {kind.__name__}, got {value!r}"
        )
    return value


@functools.cache
def load_geography() -> Geography:
    """The shipped hierarchy, parsed and checked once per process."""
    document = read_json(_FILE)
    countries: dict[str, Country] = {}
    regions: dict[str, Region] = {}
    districts: dict[str, District] = {}
    facilities: dict[str, Facility] = {}
    for c in _field(document, "countries", list, "$"):
        cc = _field(c, "code", str, "country")
        if not re.fullmatch(r"[A-Z]{2}", cc) or cc in countries:
            raise ReferenceDataError(f"{_FILE}: country code {cc!r} is not a new ISO alpha-2 code")
        tz = _field(c, "timezone", str, cc)
        offset = _field(c, "utc_offset_minutes", int, cc)
        region_ids = []
        for r in _field(c, "regions", list, cc):
            rcode = _field(r, "code", str, f"{cc}.region")
            rid = f"{cc}-{rcode}"
            if not _CODE.fullmatch(rcode) or rid in regions:
                raise ReferenceDataError(f"{_FILE}: region code {rid!r} is malformed or repeated")
            rname = _field(r, "name", str, rid)
            rtz = r.get("timezone", tz)
            roffset = r.get("utc_offset_minutes", offset)
            district_ids = []
            for d in _field(r, "districts", list, rid):
                did = f"{rid}-{_field(d, 'code', str, rid)}"
                if not _CODE.fullmatch(d["code"]) or did in districts:
                    raise ReferenceDataError(f"{_FILE}: district code {did!r} is malformed or repeated")
                dname = _field(d, "name", str, did)
                zone = _field(d, "malaria_zone", str, did)
                if zone not in MALARIA_ZONES:
                    raise ReferenceDataError(
                        f"{_FILE}: {did}.malaria_zone {zone!r} is not one of {', '.join(MALARIA_ZONES)}"
                    )
                population = _field(d, "population", int, did)
                if population <= 0:
                    raise ReferenceDataError(f"{_FILE}: {did}.population must be positive")
                facility_ids = []
                for f in _field(d, "facilities", list, did):
                    fid = _field(f, "id", str, did)
                    if not re.fullmatch(rf"{re.escape(did)}-\d{{3}}", fid) or fid in facilities:
                        raise ReferenceDataError(
                            f"{_FILE}: facility id {fid!r} must be new and look like {did}-001"
                        )
                    ftype = _field(f, "type", str, fid)
                    if ftype not in FACILITY_TYPES:
                        raise ReferenceDataError(
                            f"{_FILE}: {fid}.type {ftype!r} is not one of {', '.join(FACILITY_TYPES)}"
                        )
                    facilities[fid] = Facility(
                        facility_id=fid, name=_field(f, "name", str, fid), type=ftype,
                        lat=_field(f, "lat", float, fid), lon=_field(f, "lon", float, fid),
                        country_code=cc, region_id=rid, region=rname, district_id=did, district=dname,
                    )
                    facility_ids.append(fid)
                if not facility_ids:
                    raise ReferenceDataError(f"{_FILE}: district {did} has no facilities")
                districts[did] = District(
                    district_id=did, code=d["code"], name=dname, country_code=cc, region_id=rid,
                    region=rname, population=population, malaria_zone=zone,
                    lat=_field(d, "lat", float, did), lon=_field(d, "lon", float, did),
                    timezone=rtz, utc_offset_minutes=roffset,
                    localities=tuple(_field(d, "localities", list, did)),
                    facility_ids=tuple(facility_ids),
                )
                district_ids.append(did)
            regions[rid] = Region(
                region_id=rid, code=rcode, name=rname, country_code=cc, timezone=rtz,
                utc_offset_minutes=roffset, district_ids=tuple(district_ids),
            )
            region_ids.append(rid)
        countries[cc] = Country(
            code=cc, name=_field(c, "name", str, cc), timezone=tz, utc_offset_minutes=offset,
            region_kind=_field(c, "region_kind", str, cc), district_kind=_field(c, "district_kind", str, cc),
            region_ids=tuple(region_ids),
        )
    return Geography(
        countries=MappingProxyType(countries),
        regions=MappingProxyType(regions),
        districts=MappingProxyType(districts),
        facilities=MappingProxyType(facilities),
    )
