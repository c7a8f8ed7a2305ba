"""CSV and XLSX files stand in for a Google spreadsheet behind the same SheetSource interface."""

from __future__ import annotations

from pathlib import Path

import pytest

from producers.gsheet.errors import SheetAccessError
from producers.gsheet.sources import LocalSheetSource, SheetSource


def test_one_csv_file_is_one_tab_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "clinic-register.csv"
    path.write_text("\ufeffRecord ID,Facility ID,Note\r\nR1,KE-1,\"a, quoted\nnote\"\r\n,,\r\n", encoding="utf-8")
    source: SheetSource = LocalSheetSource(path)
    assert source.sheet_id == "clinic-register.csv"
    assert source.read_tabs() == {"clinic-register": [["Record ID", "Facility ID", "Note"],
                                                      ["R1", "KE-1", "a, quoted\nnote"], ["", "", ""]]}


def test_a_folder_of_csv_files_is_a_workbook(tmp_path: Path) -> None:
    (tmp_path / "b-ward.csv").write_text("Record ID\nB1\n", encoding="utf-8")
    (tmp_path / "a-opd.csv").write_text("Record ID\nA1\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    tabs = LocalSheetSource(tmp_path).read_tabs()
    assert list(tabs) == ["a-opd", "b-ward"]
    assert tabs["b-ward"] == [["Record ID"], ["B1"]]


@pytest.mark.parametrize("name", ["absent.csv", "register.xlsx", "notes.txt"])
def test_what_is_not_a_sheet_is_refused_with_the_setting(tmp_path: Path, name: str) -> None:
    (tmp_path / "register.xlsx").write_bytes(b"PK\x03\x04 a broken zip")
    (tmp_path / "notes.txt").write_text("not a sheet", encoding="utf-8")
    with pytest.raises(SheetAccessError, match="DAAS_GSHEET_LOCAL_PATH|cannot be read as an XLSX"):
        LocalSheetSource(tmp_path / name).read_tabs()


def test_an_xlsx_workbook_is_read_as_the_text_its_cells_show(tmp_path: Path) -> None:
    from datetime import date, datetime

    from openpyxl import Workbook

    book = Workbook()
    visits = book.active
    visits.title = "Visits"
    visits.append(["Record ID", "Date of visit", "Age", "Weight", "Referred", "Diagnosis (ICD-10)"])
    visits.append(["R1", date(2026, 11, 23), 35, 61.5, True, "B54"])
    visits.append(["R2", datetime(2026, 11, 24, 0, 0), 4.0, None, False, None])
    visits.append([])  # a formatted empty row at the end is not a row
    book.create_sheet("Ward").append(["Record ID"])
    path = tmp_path / "register.xlsx"
    book.save(path)
    tabs = LocalSheetSource(path).read_tabs()
    assert LocalSheetSource(path).sheet_id == "register.xlsx"
    assert tabs == {"Visits": [["Record ID", "Date of visit", "Age", "Weight", "Referred", "Diagnosis (ICD-10)"],
                               ["R1", "2026-11-23", "35", "61.5", "TRUE", "B54"],
                               ["R2", "2026-11-24", "4", "", "FALSE", ""]],
                    "Ward": [["Record ID"]]}
    (tmp_path / "Visits.csv").write_text("Record ID\nC1\n", encoding="utf-8")
    with pytest.raises(SheetAccessError, match="two tabs are called 'Visits'"):
        LocalSheetSource(tmp_path).read_tabs()


def test_non_utf8_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("Pr\xe9nom\n".encode("latin-1"))
    with pytest.raises(SheetAccessError, match="UTF-8"):
        LocalSheetSource(path).read_tabs()
