"""The reference data the processors validate against, in the shape the transforms use."""

from __future__ import annotations

from collections.abc import Mapping

from stream_processors.transform import Facility, IcdEntry

__all__ = ["country_aliases", "load_reference"]

# ISO 3166-1 alpha-3 codes of the countries in the reference geography.
_ALPHA3 = {"NG": "NGA", "KE": "KEN", "GH": "GHA", "UG": "UGA", "ZA": "ZAF", "CD": "COD"}


def load_reference() -> tuple[Mapping[str, Facility], Mapping[str, IcdEntry]]:
    """Facility register (by id) and ICD-10 list (by code), from the `reference` package."""
    from reference import load_geography, load_icd10

    return load_geography().facilities, load_icd10()


def country_aliases() -> dict[str, str]:
    """Case-folded alpha-3 codes and English names -> the alpha-2 code the register uses."""
    from reference import load_geography

    aliases = {}
    for country in load_geography().countries.values():
        aliases[country.name.casefold()] = country.code.casefold()
        if country.code in _ALPHA3:
            aliases[_ALPHA3[country.code].casefold()] = country.code.casefold()
    return aliases
