"""Direct identifiers of a new synthetic patient: names, ids, phone, e-mail, address.

One :class:`IdentityFactory` per country; the generator asks it for a
:class:`Person` whenever a patient first visits. Everything is drawn from the
generator's seeded random stream and from name pools built once per process.
"""

from __future__ import annotations

import random
import re
import unicodedata
from bisect import bisect
from datetime import date
from itertools import accumulate
from typing import NamedTuple

from producers.simuhealth.identifiers import national_id, phone_number
from producers.simuhealth.names import NamePool, name_pool
from reference import District

__all__ = ["IdentityFactory", "Person"]

# Name sources per country, by region code ("*" is the default): (source, weight).
_NAME_SOURCES: dict[str, dict[str, tuple[tuple[str, float], ...]]] = {
    "NG": {
        "*": (("faker:en_NG", 0.5), ("faker:yo_NG", 0.2), ("faker:ig_NG", 0.2), ("faker:ha_NG", 0.1)),
        "LA": (("faker:yo_NG", 0.6), ("faker:ig_NG", 0.25), ("faker:en_NG", 0.1), ("faker:ha_NG", 0.05)),
        "OY": (("faker:yo_NG", 0.9), ("faker:en_NG", 0.1)),
        "EN": (("faker:ig_NG", 0.9), ("faker:en_NG", 0.1)),
        "RI": (("faker:en_NG", 0.6), ("faker:ig_NG", 0.4)),
        "KN": (("faker:ha_NG", 0.95), ("faker:en_NG", 0.05)),
        "SO": (("faker:ha_NG", 0.95), ("faker:en_NG", 0.05)),
        "BO": (("faker:ha_NG", 0.9), ("faker:en_NG", 0.1)),
        "KD": (("faker:ha_NG", 0.7), ("faker:en_NG", 0.2), ("faker:ig_NG", 0.1)),
        "FC": (("faker:ha_NG", 0.35), ("faker:yo_NG", 0.25), ("faker:ig_NG", 0.25), ("faker:en_NG", 0.15)),
    },
    "KE": {"*": (("faker:en_KE", 1.0),)},
    "GH": {
        "*": (("faker:tw_GH", 1.0),),
        "NP": (("names:GH-north/GH-north", 0.85), ("faker:tw_GH", 0.15)),
        "UE": (("names:GH-north/GH-north", 0.85), ("faker:tw_GH", 0.15)),
        "UW": (("names:GH-north/GH-north", 0.85), ("faker:tw_GH", 0.15)),
    },
    "UG": {
        "C": (("names:UG/UG-C", 1.0),),
        "E": (("names:UG/UG-E", 1.0),),
        "N": (("names:UG/UG-N", 1.0),),
        "W": (("names:UG/UG-W", 1.0),),
    },
    "ZA": {"*": (("faker:zu_ZA", 1.0),)},
    "CD": {
        "*": (("names:CD/CD-west", 1.0),),
        "NK": (("names:CD/CD-nord-kivu", 1.0),),
        "SK": (("names:CD/CD-sud-kivu", 1.0),),
        "HK": (("names:CD/CD-katanga", 1.0),),
        "KE": (("names:CD/CD-kasai", 1.0),),
        "TO": (("names:CD/CD-tshopo", 1.0),),
    },
}
# Share of patients with a national id: (adults, children); adulthood per country.
_ID_SHARE = {"NG": (0.55, 0.15), "KE": (0.85, 0.0), "GH": (0.6, 0.05), "UG": (0.7, 0.2), "ZA": (0.9, 0.75),
             "CD": (0.35, 0.0)}
_ADULT_AGE = {"NG": 16, "KE": 18, "GH": 15, "UG": 16, "ZA": 16, "CD": 18}
_BIRTH_DATE_KNOWN = {"NG": 0.85, "KE": 0.9, "GH": 0.88, "UG": 0.8, "ZA": 0.97, "CD": 0.75}
_PHONE_SHARE = 0.72
_ADDRESS_SHARE = 0.65
# E-mail: (share of adults with one, domains and weights).
_EMAIL = {
    "NG": (0.12, (("gmail.com", 0.62), ("yahoo.com", 0.22), ("hotmail.com", 0.06), ("outlook.com", 0.05),
                  ("yahoo.co.uk", 0.05))),
    "KE": (0.12, (("gmail.com", 0.7), ("yahoo.com", 0.15), ("outlook.com", 0.08), ("hotmail.com", 0.07))),
    "GH": (0.1, (("gmail.com", 0.68), ("yahoo.com", 0.2), ("outlook.com", 0.07), ("hotmail.com", 0.05))),
    "UG": (0.08, (("gmail.com", 0.72), ("yahoo.com", 0.15), ("outlook.com", 0.08), ("hotmail.com", 0.05))),
    "ZA": (0.15, (("gmail.com", 0.55), ("outlook.com", 0.1), ("yahoo.com", 0.1), ("webmail.co.za", 0.1),
                  ("mweb.co.za", 0.08), ("vodamail.co.za", 0.07))),
    "CD": (0.05, (("gmail.com", 0.6), ("yahoo.fr", 0.25), ("outlook.com", 0.08), ("hotmail.fr", 0.07))),
}
_STREET_KINDS = {
    "NG": ("Street", "Street", "Road", "Close", "Crescent", "Avenue", "Lane"),
    "KE": ("Road", "Street", "Avenue", "Lane", "Drive"),
    "GH": ("Street", "Road", "Close", "Avenue"),
    "UG": ("Road", "Road", "Street", "Lane", "Close"),
    "ZA": ("Street", "Street", "Road", "Avenue", "Drive", "Crescent"),
}
_NOT_LOCAL_PART = re.compile(r"[^a-z0-9]")


class Person(NamedTuple):
    """A patient's identity, kept for return visits; ``birth_known`` says if the EHR has the date."""

    patient_id: str
    national_id: str | None
    given_name: str
    family_name: str
    sex: str
    birth: date
    birth_known: bool
    phone: str | None
    email: str | None
    address: str | None


def _ascii(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _NOT_LOCAL_PART.sub("", folded.lower())


class IdentityFactory:
    """Makes new patients for one country, names following the region's traditions."""

    def __init__(self, country: str) -> None:
        self._country = country
        self._sources: dict[str, tuple[tuple[NamePool, ...], tuple[float, ...]]] = {}
        self._by_region: dict[str, tuple[tuple[NamePool, ...], tuple[float, ...]]] = {}
        for region, sources in _NAME_SOURCES[country].items():
            pools = tuple(name_pool(source) for source, _ in sources)
            self._sources[region] = (pools, tuple(accumulate(weight for _, weight in sources)))
        self._id_share = _ID_SHARE[country]
        self._adult_age = _ADULT_AGE[country]
        self._birth_known = _BIRTH_DATE_KNOWN[country]
        email_share, domains = _EMAIL[country]
        self._email_share = email_share
        self._domains = tuple(domain for domain, _ in domains)
        self._domain_cum = tuple(accumulate(weight for _, weight in domains))

    def _pool(self, rng: random.Random, district: District) -> NamePool:
        sources = self._by_region.get(district.region_id)
        if sources is None:
            code = district.region_id.partition("-")[2]
            sources = self._by_region[district.region_id] = self._sources.get(code) or self._sources["*"]
        pools, cum = sources
        if len(pools) == 1:
            return pools[0]
        return pools[bisect(cum, rng.random() * cum[-1])]

    def person(self, rng: random.Random, district: District, patient_id: str, sex: str, birth: date,
               age: int) -> Person:
        """A new patient of this sex and birth date living in ``district``."""
        rand = rng.random
        pool = self._pool(rng, district)
        given_names = pool.given_female if sex == "F" else pool.given_male
        family_names = pool.family_female if sex == "F" else pool.family_male
        given = given_names[int(rand() * len(given_names))]
        family = family_names[int(rand() * len(family_names))]
        adult = age >= self._adult_age
        birth_known = rand() < self._birth_known
        nid = None
        if rand() < self._id_share[0 if adult else 1] and (birth_known or self._country != "ZA"):
            nid = national_id(self._country, rng, sex, birth)
        phone = phone_number(self._country, rng) if rand() < _PHONE_SHARE else None
        email = self._email(rng, given, family, birth) if rand() < (self._email_share if adult else 0.02) else None
        address = self._address(rng, district, pool) if rand() < _ADDRESS_SHARE else None
        return Person(patient_id, nid, given, family, sex, birth, birth_known, phone, email, address)

    def _email(self, rng: random.Random, given: str, family: str, birth: date) -> str:
        g, f = _ascii(given) or "user", _ascii(family) or "mail"
        style = rng.random()
        if style < 0.35:
            local = f"{g}.{f}"
        elif style < 0.6:
            local = f"{g}{f}{rng.randrange(1, 100)}"
        elif style < 0.8:
            local = f"{g[0]}{f}"
        else:
            local = f"{f}.{g}{birth:%y}"
        domain = self._domains[bisect(self._domain_cum, rng.random() * self._domain_cum[-1])]
        return f"{local}@{domain}"

    def _address(self, rng: random.Random, district: District, pool: NamePool) -> str:
        rand = rng.random
        locality = district.localities[int(rand() * len(district.localities))]
        street = pool.family_male[int(rand() * len(pool.family_male))]
        number = 1 + int(rand() * 120)
        country = self._country
        if country == "CD":
            return f"{number}, avenue {street}, quartier {locality}, {district.name}"
        if country == "KE" and rand() < 0.35:
            return f"P.O. Box {rng.randrange(10, 9999)}, {locality}"
        kinds = _STREET_KINDS[country]
        kind = kinds[int(rand() * len(kinds))]
        if country == "UG":
            return f"Plot {number}, {street} {kind}, {locality}, {district.name}"
        if country == "GH":
            return f"House No. {number}, {street} {kind}, {locality}"
        return f"{number} {street} {kind}, {locality}, {district.name}"
