"""Turn the values of one tab into keyed rows: stable row keys and content hashes.

Called by the poller once per tab per poll. A row is identified by its **row key**
and versioned by its **content hash**; the poller emits a row when its key is new or
its hash changed, so moving rows around emits nothing.

Row key
    The tab's key column ("Record ID", "Row ID", "Encounter ID" → ``row_id``) when the
    row has a value there: that value, trimmed. Otherwise the fallback
    ``fp-`` + HMAC-SHA256(secret, "daas/gsheet/row-key/v1\n" + JSON [facility_id,
    patient_id, encounter_date, icd10_code]) (each cell trimmed, case-folded, inner
    spaces collapsed; the first 128 bits in hex). The HMAC
    is keyed because the key reaches the clean records as part of ``source_key`` and a
    plain hash of a medical record number, a facility, a date and a code — three of
    which the clean record carries — would give the record number back to anyone who
    tries the few possible values.

    Limits of the fallback, which is why a key column is recommended:

    - editing any of the four identifying cells (fixing a mistyped patient id, a date
      typed in another format, a corrected diagnosis) makes a new key, so the row is
      emitted as a new record and the old version stays downstream;
    - filling in a blank key cell later re-keys the row the same way;
    - rows whose four identifying cells are all blank are keyed by their whole
      content, so any edit to them makes a new record;
    - changing the secret re-keys every fallback-keyed row (a re-emission with new
      record ids; plan it like a patient-key rotation).

    Two rows with the same key and the same content are one row typed twice: it is
    emitted once. Two rows with the same key and different content are both kept:
    the one with the lower content hash keeps the key, the others get ``#2``, ``#3``
    … in content-hash order, which does not depend on where the rows sit in the tab.

Content hash
    SHA-256 (hex) of the row's non-blank cells as canonical JSON: keys sorted,
    values NFC-normalised and trimmed, UTF-8. Whitespace around a value, blank cells
    and the order of the columns do not change it; any other edit does. Cells are
    emitted as typed (untrimmed), the hash only decides whether to emit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from producers.gsheet.headers import KEY_COLUMN, map_headers

__all__ = [
    "FALLBACK_PREFIX",
    "IDENTIFYING_CELLS",
    "KeyedRow",
    "TabRows",
    "content_hash",
    "fallback_row_key",
    "key_rows",
]

_log = logging.getLogger(__name__)

IDENTIFYING_CELLS = ("facility_id", "patient_id", "encounter_date", "icd10_code")
FALLBACK_PREFIX = "fp-"
# Separates these HMACs from others made with the same secret (the processors' patient key).
_DOMAIN = b"daas/gsheet/row-key/v1\n"


@dataclass(frozen=True)
class KeyedRow:
    """One data row of a tab, ready to become a SheetRow record."""

    row_number: int  # 1-based, as the sheet shows it at the time of the poll
    row_key: str
    content_hash: str
    cells: dict[str, str]  # canonical name -> non-blank cell text as typed


@dataclass(frozen=True)
class TabRows:
    """The keyed rows of one tab and what keying had to work around."""

    tab: str
    rows: list[KeyedRow]
    fallback_keyed: int  # rows keyed by the fallback, not by a key column value
    duplicates: int  # rows dropped because an identical row had the same key


def _normalise(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


def _canonical_json(cells: Mapping[str, str]) -> bytes:
    kept = {name: _normalise(text) for name, text in cells.items() if _normalise(text)}
    return json.dumps(kept, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def content_hash(cells: Mapping[str, str]) -> str:
    """SHA-256 (hex) of the normalised non-blank cells; see the module docstring."""
    return hashlib.sha256(_canonical_json(cells)).hexdigest()


def _identity_text(value: str) -> str:
    return re.sub(r"\s+", " ", _normalise(value).casefold())


def fallback_row_key(cells: Mapping[str, str], secret: bytes) -> str:
    """The row key of a row without a key-column value; see the module docstring."""
    identity = [_identity_text(cells.get(name, "")) for name in IDENTIFYING_CELLS]
    if any(identity):
        message = json.dumps(identity, ensure_ascii=False, separators=(",", ":")).encode()
    else:
        message = b"content:" + _canonical_json(cells)
    return FALLBACK_PREFIX + hmac.new(secret, _DOMAIN + message, hashlib.sha256).hexdigest()[:32]


def _first_non_blank(values: Sequence[Sequence[str]]) -> int | None:
    for index, row in enumerate(values):
        if any(str(cell).strip() for cell in row):
            return index
    return None


def key_rows(tab: str, values: Sequence[Sequence[str]], *, secret: bytes) -> TabRows:
    """Keyed rows of a tab whose values start at cell A1 (row 1 is ``values[0]``).

    The first non-blank row is the header; blank rows below it are skipped.
    """
    header_index = _first_non_blank(values)
    if header_index is None:
        return TabRows(tab, [], 0, 0)
    width = max(len(row) for row in values)
    names = map_headers([str(cell) for cell in values[header_index]], width)

    by_key: dict[str, list[KeyedRow]] = {}
    fallback_keyed = 0
    for index in range(header_index + 1, len(values)):
        cells = {names[col]: str(text) for col, text in enumerate(values[index]) if str(text).strip()}
        if not cells:
            continue
        typed_key = re.sub(r"\s+", " ", _normalise(cells.get(KEY_COLUMN, "")))
        if not typed_key:
            fallback_keyed += 1
        key = typed_key or fallback_row_key(cells, secret)
        by_key.setdefault(key, []).append(KeyedRow(index + 1, key, content_hash(cells), cells))

    rows: list[KeyedRow] = []
    duplicates = 0
    for key, group in by_key.items():
        versions: dict[str, KeyedRow] = {}
        for row in group:
            versions.setdefault(row.content_hash, row)
        duplicates += len(group) - len(versions)
        if len(group) > 1:
            _log.warning("tab %r: rows %s share the row key %r (%d distinct versions kept)",
                         tab, [r.row_number for r in group], key, len(versions))
        for n, digest in enumerate(sorted(versions), 1):
            row = versions[digest]
            rows.append(row if n == 1 else KeyedRow(row.row_number, f"{key}#{n}", digest, row.cells))
    rows.sort(key=lambda r: r.row_number)
    return TabRows(tab, rows, fallback_keyed, duplicates)
