"""CSV files stand in for a Google spreadsheet behind the same SheetSource interface."""

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


@pytest.mark.parametrize("name", ["absent.csv", "register.xlsx"])
def test_what_is_not_csv_is_refused_with_the_setting(tmp_path: Path, name: str) -> None:
    (tmp_path / "register.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(SheetAccessError, match="DAAS_GSHEET_LOCAL_PATH"):
        LocalSheetSource(tmp_path / name).read_tabs()


def test_non_utf8_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("Pr\xe9nom\n".encode("latin-1"))
    with pytest.raises(SheetAccessError, match="UTF-8"):
        LocalSheetSource(path).read_tabs()
