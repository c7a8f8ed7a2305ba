"""Row keys and content hashes: what decides whether a row is emitted."""

from __future__ import annotations

import hashlib
import hmac
import json
import random

from producers.gsheet.rows import content_hash, fallback_row_key, key_rows

SECRET = b"unit-test-row-key-secret"
HEADER = ["Record ID", "Facility ID", "Patient ID", "Date of visit", "ICD10", "Sex", "Age", "Severity"]


def _rows(tab_rows: list[list[str]], header: list[str] = HEADER) -> list[list[str]]:
    return [header, *tab_rows]


def test_content_hash_is_sha256_of_the_canonical_json_of_non_blank_trimmed_cells() -> None:
    cells = {"sex": " F ", "facility_id": "KE-NBI-001", "severity": "", "given_name": "Amélie"}
    expected = hashlib.sha256(
        '{"facility_id":"KE-NBI-001","given_name":"Amélie","sex":"F"}'.encode()).hexdigest()
    assert content_hash(cells) == expected


def test_content_hash_ignores_whitespace_blanks_order_and_unicode_form_but_not_edits() -> None:
    base = {"facility_id": "KE-NBI-001", "given_name": "Amélie", "sex": "F"}
    same = {"sex": "F  ", "given_name": "Ame\u0301lie", "facility_id": " KE-NBI-001", "outcome": "  "}
    assert content_hash(same) == content_hash(base)
    assert content_hash({**base, "sex": "M"}) != content_hash(base)
    assert content_hash({**base, "sex": "f"}) != content_hash(base)
    assert content_hash({**base, "outcome": "treated"}) != content_hash(base)


def test_fallback_key_is_a_keyed_hmac_of_the_identifying_cells() -> None:
    cells = {"facility_id": "KE-NBI-001", "patient_id": "P 17", "encounter_date": "2026-03-02",
             "icd10_code": "B54", "sex": "F"}
    message = json.dumps(["ke-nbi-001", "p 17", "2026-03-02", "b54"], separators=(",", ":")).encode()
    expected = "fp-" + hmac.new(SECRET, b"daas/gsheet/row-key/v1\n" + message, hashlib.sha256).hexdigest()[:32]
    assert fallback_row_key(cells, SECRET) == expected
    messy = {**cells, "facility_id": " ke-nbi-001 ", "patient_id": "P   17", "icd10_code": "b54", "sex": "M"}
    assert fallback_row_key(messy, SECRET) == expected
    assert fallback_row_key(cells, b"another-secret-entirely") != expected
    assert fallback_row_key({**cells, "patient_id": "P 18"}, SECRET) != expected


def test_fallback_key_without_identifying_cells_follows_the_content() -> None:
    a = {"given_name": "Ann", "sex": "F"}
    assert fallback_row_key(a, SECRET) == fallback_row_key({"sex": "F ", "given_name": "Ann"}, SECRET)
    assert fallback_row_key(a, SECRET) != fallback_row_key({**a, "sex": "M"}, SECRET)


def test_key_column_value_is_the_row_key_and_cells_are_kept_as_typed() -> None:
    tab = key_rows("Clinic A", _rows([["  R-001 ", "KE-NBI-001", "P17", "02/03/2026", "B54", "F", "34", ""]]),
                   secret=SECRET)
    [row] = tab.rows
    assert (row.row_number, row.row_key, tab.fallback_keyed, tab.duplicates) == (2, "R-001", 0, 0)
    assert row.cells == {"row_id": "  R-001 ", "facility_id": "KE-NBI-001", "patient_id": "P17",
                         "encounter_date": "02/03/2026", "icd10_code": "B54", "sex": "F", "age_years": "34"}
    assert row.content_hash == content_hash(row.cells)


def test_rows_without_a_key_value_use_the_fallback() -> None:
    tab = key_rows("Clinic A", _rows([["", "KE-NBI-001", "P17", "2026-03-02", "B54", "F", "34"]]), secret=SECRET)
    [row] = tab.rows
    assert row.row_key == fallback_row_key(row.cells, SECRET)
    assert tab.fallback_keyed == 1


def test_header_is_the_first_non_blank_row_and_row_numbers_count_blank_rows() -> None:
    values = [[], ["", ""], HEADER, ["R1", "KE-1"], [], ["", " "], ["R2", "KE-2"]]
    tab = key_rows("t", values, secret=SECRET)
    assert [(r.row_number, r.row_key) for r in tab.rows] == [(4, "R1"), (7, "R2")]


def test_ragged_rows_wider_than_the_header_keep_their_extra_cells() -> None:
    tab = key_rows("t", [["Record ID"], ["R1", "", "late note"]], secret=SECRET)
    assert tab.rows[0].cells == {"row_id": "R1", "column_c": "late note"}


def test_reordering_rows_keeps_every_key_and_hash() -> None:
    body = [[f"R{i}", f"KE-{i % 3}", f"P{i}", "2026-03-02", "B54", "FM"[i % 2], str(20 + i)] for i in range(20)]
    body += [["", "KE-9", f"Q{i}", "2026-03-03", "A09", "F", "5"] for i in range(5)]
    shuffled = body[:]
    random.Random(7).shuffle(shuffled)
    before = {(r.row_key, r.content_hash) for r in key_rows("t", _rows(body), secret=SECRET).rows}
    after = {(r.row_key, r.content_hash) for r in key_rows("t", _rows(shuffled), secret=SECRET).rows}
    assert len(before) == 25
    assert after == before


def test_identical_rows_typed_twice_are_one_row() -> None:
    row = ["R1", "KE-1", "P1", "2026-03-02", "B54", "F", "30"]
    tab = key_rows("t", _rows([row, ["R2", "KE-1"], row]), secret=SECRET)
    assert [(r.row_number, r.row_key) for r in tab.rows] == [(2, "R1"), (3, "R2")]
    assert tab.duplicates == 1


def test_same_key_different_content_keeps_both_in_an_order_free_of_row_positions() -> None:
    a = ["R1", "KE-1", "P1", "2026-03-02", "B54", "F", "30"]
    b = ["R1", "KE-1", "P1", "2026-03-02", "B54", "F", "31"]
    first = key_rows("t", _rows([a, b]), secret=SECRET).rows
    second = key_rows("t", _rows([b, a]), secret=SECRET).rows
    assert sorted(r.row_key for r in first) == ["R1", "R1#2"]
    assert {(r.row_key, r.content_hash) for r in first} == {(r.row_key, r.content_hash) for r in second}
    owner = min(first, key=lambda r: r.content_hash)
    assert owner.row_key == "R1"


def test_empty_and_header_only_tabs_have_no_rows() -> None:
    assert key_rows("t", [], secret=SECRET).rows == []
    assert key_rows("t", [[], [""]], secret=SECRET).rows == []
    assert key_rows("t", [HEADER], secret=SECRET).rows == []
