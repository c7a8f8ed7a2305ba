"""SimuHealth: synthetic outpatient encounters that look like African clinic EHR traffic.

The generator follows the shared reference data (``reference``): facilities drawn
in proportion to district population, each country's case mix, age and sex
effects (severe malaria mostly in under-fives, pregnancy codes only for women of
12-55), malaria seasonality by zone, injected outbreaks, return visits for
chronic care, and identifiers in each country's formats. Backfill mode
(:meth:`SimuHealthGenerator.generate`) spreads encounters over ``[start, end)``
in event-time order; live mode (:meth:`SimuHealthGenerator.live`) stamps them
with the caller's clock. The same seed gives the same stream, record for record.
"""

from __future__ import annotations

import functools
import hashlib
import random
from binascii import b2a_base64
from bisect import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from daas.errors import ConfigurationError
from producers.simuhealth.identity import IdentityFactory, Person
from producers.simuhealth.model import MAX_AGE, SEX_AGE_STRIDE, CaseModel, DistrictModel, Weighted, weighted
from producers.simuhealth.outbreak import Outbreak
from producers.simuhealth.timeline import (
    DAY_MS,
    EPOCH_ORDINAL,
    HOUR_MS,
    HourGrid,
    birth_ordinals,
    local_factor,
    season_factor,
)
from reference import Facility, Icd10Entry, normalise_icd10_code

__all__ = ["SimuHealthGenerator"]

_OUTBREAK_KEY = 1_000_000  # group keys at or above this are outbreak excess cases
_POOL_SIZE = 20  # known patients kept per facility and chronic-care group
# Patient numbers: 12 letters and digits (base64 of 72 random bits, "+" and "/" mapped to letters).
_UID_ALPHABET = bytes.maketrans(b"+/", b"xz")
_K = TypeVar("_K")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


@functools.cache
def _compiled(countries: tuple[str, ...] | None) -> CaseModel:
    return CaseModel(countries)


def _country_codes(countries: Sequence[str] | str | None) -> tuple[str, ...] | None:
    """ISO codes as a canonical tuple (so generators share compiled tables); "KE,UG" is accepted too."""
    if countries is None:
        return None
    parts = countries.split(",") if isinstance(countries, str) else countries
    return tuple(sorted({code.strip().upper() for code in parts if code.strip()}))


def _to_ms(value: datetime | date, name: str) -> int:
    """Epoch milliseconds of an aware datetime, or of a date's UTC midnight."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ConfigurationError(f"SimuHealth {name} {value!r} must be timezone-aware (for example UTC)")
        return (value - _EPOCH) // _MS
    if isinstance(value, date):
        return (value.toordinal() - EPOCH_ORDINAL) * DAY_MS
    raise ConfigurationError(f"SimuHealth {name} must be a datetime or a date, got {value!r}")


@dataclass(frozen=True, slots=True)
class _ActiveOutbreak:
    district: int
    group: int
    code: str | None
    code_share: float
    first: int
    end: int
    extra: float


@dataclass(slots=True)
class _Day:
    """One UTC day: district weights by time zone, and each district's seasonal and outbreak groups."""

    ordinal: int
    day: date
    totals: list[float]
    zones: list[tuple[int, Weighted[int]]]
    dynamic: list[tuple[tuple[int, ...], tuple[float, ...]]]
    births: dict[int, tuple[int, int]] = field(default_factory=dict)

    def birth_bounds(self, age: int) -> tuple[int, int]:
        """Ordinals (exclusive, inclusive) of the birth dates that make someone ``age`` today."""
        bounds = self.births.get(age)
        if bounds is None:
            bounds = self.births[age] = birth_ordinals(self.day, age)
        return bounds


@dataclass(slots=True)
class _Stream:
    """Random state, id tag and patient memory of one output stream (backfill or live)."""

    rng: random.Random
    tag: str
    sequence: int = 0
    known: dict[tuple[str, int], list[Person]] = field(default_factory=dict)


def _tag(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


class SimuHealthGenerator:
    """Deterministic synthetic encounters matching ``schemas/simuhealth_encounter.avsc``.

    ``countries`` limits the output to some ISO codes (default: every country in
    the reference data). ``start``/``end`` bound backfill event times (dates are
    UTC midnight; datetimes must be timezone-aware). ``outbreaks`` raise a
    disease's incidence in a district for some weeks, in both modes.
    """

    def __init__(
        self,
        seed: int,
        *,
        countries: Sequence[str] | str | None = None,
        start: datetime | date | None = None,
        end: datetime | date | None = None,
        outbreaks: Sequence[Outbreak] = (),
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigurationError(f"SimuHealth seed must be an integer, got {seed!r}")
        self._seed = seed
        self._model = _compiled(_country_codes(countries))
        self._window: tuple[int, int] | None = None
        if start is not None or end is not None:
            if start is None or end is None:
                raise ConfigurationError("SimuHealth backfill needs both start and end")
            self._window = (_to_ms(start, "start"), _to_ms(end, "end"))
            if self._window[0] >= self._window[1]:
                raise ConfigurationError(f"SimuHealth start {start!r} must be before end {end!r}")
        self._outbreaks = tuple(self._resolve(o) for o in outbreaks)
        self._outbreaks_of: dict[int, list[int]] = {}
        for index, active in enumerate(self._outbreaks):
            self._outbreaks_of.setdefault(active.district, []).append(index)
        self._offsets = tuple(sorted({d.offset_minutes for d in self._model.districts}))
        self._identities = {country: IdentityFactory(country) for country in self._model.countries}
        self._backfill = _Stream(random.Random(seed), _tag(f"simuhealth:{seed}"))
        self._live: _Stream | None = None
        self._grid: HourGrid | None = None
        self._day: _Day | None = None

    @property
    def countries(self) -> tuple[str, ...]:
        """The ISO codes this generator emits, in reference order."""
        return self._model.countries

    def _resolve(self, outbreak: Outbreak) -> _ActiveOutbreak:
        model = self._model
        district = model.geography.find_district(outbreak.district)
        match = [d for d in model.districts if d.district is district]
        if not match:
            raise ConfigurationError(
                f"outbreak district {outbreak.district!r} is in {district.country_code}, "
                f"which this generator does not emit ({', '.join(model.countries)})"
            )
        disease = outbreak.disease.strip()
        code: str | None = None
        share = 1.0
        if disease.lower() in model.group_index:
            group = model.group_index[disease.lower()]
        else:
            code = normalise_icd10_code(disease)
            entry = model.icd10.get(code)
            if entry is None or entry.group not in model.group_index:
                raise ConfigurationError(
                    f"outbreak disease {disease!r} is neither a diagnosis group "
                    f"({', '.join(model.group_names)}) nor an ICD-10 code in the reference list"
                )
            group = model.group_index[entry.group]
            share = model.code_share(district.country_code, group, code)
            if share == 0.0:
                raise ConfigurationError(
                    f"outbreak code {code} never occurs in {district.country_code} encounters, "
                    "so there is no incidence to multiply; name its group instead"
                )
        return _ActiveOutbreak(
            district=match[0].index, group=group, code=code, code_share=share,
            first=outbreak.first_day.toordinal(), end=outbreak.end_day.toordinal(),
            extra=outbreak.multiplier - 1.0,
        )

    def _build_day(self, ordinal: int) -> _Day:
        model = self._model
        day = date.fromordinal(ordinal)
        factors = [season_factor(profile, day) for profile in model.profiles]
        totals: list[float] = []
        dynamic: list[tuple[tuple[int, ...], tuple[float, ...]]] = []
        for dm in model.districts:
            running = dm.static_groups[2]
            keys: list[int] = []
            bounds: list[float] = []
            for group, weight, profile in dm.seasonal:
                bounds.append(running)
                running += weight * factors[profile]
                keys.append(group)
            for index in self._outbreaks_of.get(dm.index, ()):
                active = self._outbreaks[index]
                if active.first <= ordinal < active.end:
                    profile_index = dm.seasonal_profile_of.get(active.group)
                    seasonal = factors[profile_index] if profile_index is not None else 1.0
                    bounds.append(running)
                    running += dm.group_weights[active.group] * seasonal * active.extra * active.code_share
                    keys.append(_OUTBREAK_KEY + index)
            totals.append(running)
            dynamic.append((tuple(keys), tuple(bounds[1:])))
        zones = []
        for offset in self._offsets:
            members = [dm.index for dm in model.districts if dm.offset_minutes == offset]
            zones.append((offset, weighted(members, [totals[i] for i in members])))
        return _Day(ordinal, day, totals, zones, dynamic)

    def _day_at(self, ordinal: int) -> _Day:
        if self._day is None or self._day.ordinal != ordinal:
            self._day = self._build_day(ordinal)
        return self._day

    def _hour_intensity(self, hour_ms: int) -> float:
        day = self._day_at(EPOCH_ORDINAL + hour_ms // DAY_MS)
        return sum(members[2] * local_factor(offset, hour_ms) for offset, members in day.zones)

    def _zone_table(self, day: _Day, hour_ms: int) -> Weighted[int]:
        """Which time zone an encounter in this hour falls in: district weight x local clinic hours."""
        return weighted(
            range(len(day.zones)), [members[2] * local_factor(offset, hour_ms) for offset, members in day.zones]
        )

    def generate(self, n: int) -> Iterator[dict[str, Any]]:
        """``n`` backfill encounters over ``[start, end)`` in event-time order.

        Each call spreads its ``n`` encounters over the whole window; later calls
        continue the same random stream (new encounters, new ids).
        """
        if self._window is None:
            raise ConfigurationError("SimuHealth backfill needs start and end; live mode does not")
        if n < 0:
            raise ConfigurationError(f"cannot generate {n} encounters")
        if self._grid is None:
            self._grid = HourGrid(*self._window, self._hour_intensity)
        return self._backfill_records(self._grid, n)

    def _backfill_records(self, grid: HourGrid, n: int) -> Iterator[dict[str, Any]]:
        stream = self._backfill
        rand = stream.rng.random
        cumulative, starts, lengths = grid.cumulative, grid.starts, grid.lengths
        last = len(cumulative) - 1
        total = grid.total
        top = 1.0
        bucket = 0
        current = -1
        low = width = 0.0
        day = self._day_at(EPOCH_ORDINAL + starts[0] // DAY_MS)
        zone_table = self._zone_table(day, starts[0] - starts[0] % HOUR_MS)
        for remaining in range(n, 0, -1):
            # Sorted uniforms: `top` is the largest of `remaining` uniforms, mirrored so times ascend.
            top *= (1.0 - rand()) ** (1.0 / remaining)
            target = (1.0 - top) * total
            while bucket < last and cumulative[bucket] <= target:
                bucket += 1
            if bucket != current:
                current = bucket
                hour_ms = starts[bucket] - starts[bucket] % HOUR_MS
                day = self._day_at(EPOCH_ORDINAL + hour_ms // DAY_MS)
                zone_table = self._zone_table(day, hour_ms)
                low = cumulative[bucket - 1] if bucket else 0.0
                width = cumulative[bucket] - low
            fraction = (target - low) / width if width > 0 else 0.0
            length = lengths[bucket]
            ms = starts[bucket] + min(int(fraction * length), length - 1)
            yield self._encounter(stream, ms, day, zone_table, ms + _upload_lag(rand))

    def live(self, now: datetime, n: int = 1) -> list[dict[str, Any]]:
        """``n`` encounters happening at ``now`` (event time and produced_at), for the live producer.

        The live stream is seeded from the seed and the first ``now``, so restarting
        a producer with the same seed never repeats encounter or patient ids.
        """
        ms = _to_ms(now, "now")
        if n < 0:
            raise ConfigurationError(f"cannot generate {n} encounters")
        if self._live is None:
            self._live = _Stream(random.Random(f"{self._seed}:{ms}"), _tag(f"simuhealth:{self._seed}:{ms}"))
        day = self._day_at(EPOCH_ORDINAL + ms // DAY_MS)
        zone_table = self._zone_table(day, ms - ms % HOUR_MS)
        return [self._encounter(self._live, ms, day, zone_table, ms) for _ in range(n)]

    def _encounter(
        self, stream: _Stream, ms: int, day: _Day, zone_table: Weighted[int], produced_ms: int
    ) -> dict[str, Any]:
        """One encounter at ``ms``: where, what, who, how bad; the record as the EHR sends it."""
        rand = stream.rng.random
        dm, facility = self._place(rand, day, zone_table)
        group, forced = self._disease(rand, day, dm)
        person, age, cell = self._patient(stream, day, dm, facility.facility_id, group, forced)
        entry, severity = self._diagnosis(rand, group, forced, age, cell)
        outcome = _draw(self._model.outcomes[severity], rand)
        if outcome == "admitted" and facility.type == "dispensary":
            outcome = "referred"
        sequence = stream.sequence
        stream.sequence = sequence + 1
        known_birth = person.birth_known
        return {
            "encounter_id": f"{facility.facility_id}-{stream.tag}-{sequence:010d}",
            "facility_id": facility.facility_id,
            "country_code": facility.country_code,
            "region": facility.region,
            "district": facility.district,
            "encounter_time": datetime.fromtimestamp(ms / 1000, UTC),
            "patient": {
                "patient_id": person.patient_id,
                "national_id": person.national_id,
                "given_name": person.given_name,
                "family_name": person.family_name,
                "sex": person.sex,
                "birth_date": person.birth if known_birth else None,
                "age_years": None if known_birth else age,
                "phone": person.phone,
                "email": person.email,
                "address": person.address,
            },
            "diagnosis": {
                "icd10_code": entry.code,
                "description": entry.name,
                "certainty": "confirmed" if rand() < self._model.groups[group].confirmed_share else "suspected",
            },
            "severity": severity,
            "outcome": outcome,
            "produced_at": datetime.fromtimestamp(produced_ms / 1000, UTC),
        }

    def _place(
        self, rand: Callable[[], float], day: _Day, zone_table: Weighted[int]
    ) -> tuple[DistrictModel, Facility]:
        """Time zone (clinic hours), then district (population x today's incidence), then facility."""
        members = day.zones[_draw(zone_table, rand)][1]
        dm = self._model.districts[_draw(members, rand)]
        return dm, _draw(dm.facilities, rand)

    def _disease(self, rand: Callable[[], float], day: _Day, dm: DistrictModel) -> tuple[int, str | None]:
        """The diagnosis group, and the ICD-10 code when it is the excess of a code outbreak."""
        static, static_bounds, static_total = dm.static_groups
        keys, bounds = day.dynamic[dm.index]
        draw = rand() * day.totals[dm.index]
        if draw < static_total or not keys:
            return static[bisect(static_bounds, draw)], None
        key = keys[bisect(bounds, draw)]
        if key < _OUTBREAK_KEY:
            return key, None
        active = self._outbreaks[key - _OUTBREAK_KEY]
        return active.group, active.code

    def _patient(
        self, stream: _Stream, day: _Day, dm: DistrictModel, facility_id: str, group: int, forced: str | None
    ) -> tuple[Person, int, int]:
        """A returning patient of this facility (chronic care) or a new one; with age and sex-age cell."""
        model = self._model
        spec = model.groups[group]
        rng = stream.rng
        rand = rng.random
        today = day.day
        memory_key = (facility_id, group)
        if spec.return_share and rand() < spec.return_share:
            known = stream.known.get(memory_key)
            if known:
                person = known[int(rand() * len(known))]
                birth = person.birth
                age = min(today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day)), MAX_AGE)
                cell = (person.sex == "M") * SEX_AGE_STRIDE + age
                if forced is None:
                    usable = spec.codes[cell] is not None and spec.severe_codes[cell] is not None
                else:
                    usable = model.icd10[forced].allows(person.sex, age)
                if usable:
                    return person, age, cell
        cell = _draw(model.age_sex(dm.district.country_code, group, forced), rand)
        age = cell % SEX_AGE_STRIDE
        earliest, latest = day.birth_bounds(age)
        birth = date.fromordinal(latest - int(rand() * (latest - earliest)))
        uid = b2a_base64(rng.randbytes(9), newline=False).translate(_UID_ALPHABET).decode()
        sex = "M" if cell >= SEX_AGE_STRIDE else "F"
        person = self._identities[dm.district.country_code].person(rng, dm.district, uid, sex, birth, age)
        if spec.return_share:
            known = stream.known.setdefault(memory_key, [])
            if len(known) < _POOL_SIZE:
                known.append(person)
            else:
                known[int(rand() * _POOL_SIZE)] = person
        return person, age, cell

    def _diagnosis(
        self, rand: Callable[[], float], group: int, forced: str | None, age: int, cell: int
    ) -> tuple[Icd10Entry, str]:
        """Severity (malaria: by age) and an ICD-10 code allowed for the patient's sex and age."""
        model = self._model
        spec = model.groups[group]
        if forced is not None:
            entry = model.icd10[forced]
            if entry.severe:
                return entry, "severe"
            if spec.has_severe_codes:
                return entry, "mild" if rand() < spec.mild_given_not_severe else "moderate"
            return entry, _draw(spec.severity, rand)
        if group == model.malaria:
            severe = rand() < model.severe_malaria[age]
            severity = "severe" if severe else ("mild" if rand() < spec.mild_given_not_severe else "moderate")
        else:
            severity = _draw(spec.severity, rand)
            severe = severity == "severe"
        table = spec.severe_codes[cell] if severe else spec.codes[cell]
        if table is None:
            raise AssertionError(f"{spec.name} has no code for sex-age cell {cell}; the age-sex table allowed it")
        return _draw(table, rand), severity

def _draw(table: Weighted[_K], rand: Callable[[], float]) -> _K:
    keys, bounds, total = table
    return keys[bisect(bounds, rand() * total)]


def _upload_lag(rand: Callable[[], float]) -> int:
    """Milliseconds between the visit and the EHR sending it: most sync within minutes, some days later."""
    draw = rand()
    if draw < 0.8:
        return 5_000 + int(rand() * 900_000)
    if draw < 0.95:
        return HOUR_MS + int(rand() * 11 * HOUR_MS)
    return DAY_MS + int(rand() * 2 * DAY_MS)
