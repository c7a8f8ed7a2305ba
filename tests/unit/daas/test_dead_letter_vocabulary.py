"""One dead-letter vocabulary: daas/dead_letter.py owns every reason code and the one way a
dead letter's headers are made, so no stage can spell a code or a version its own way."""

from __future__ import annotations

import ast
from pathlib import Path

from daas import dead_letter

ROOT = Path(__file__).resolve().parents[3]
OWNER = ROOT / "daas" / "dead_letter.py"
PACKAGES = ("console", "daas", "dags", "producers", "reference", "schemas", "sinks", "state", "stream_processors",
            "warehouse")


def _nodes() -> list[tuple[Path, ast.AST]]:
    return [(path, node) for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py")) if path != OWNER
            for node in ast.walk(ast.parse(path.read_text(), str(path)))]


def test_reason_codes_are_spelled_only_where_they_are_defined() -> None:
    spelled = [f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}" for path, node in _nodes()
               if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in dead_letter.CODES]
    assert spelled == [], "use the constants of daas.dead_letter"


def test_dead_letters_and_their_headers_are_made_only_by_the_dead_letter_module() -> None:
    made = [f"{path.relative_to(ROOT)}:{node.lineno}" for path, node in _nodes()
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("DeadLetter", "Provenance"))
            or (isinstance(node, ast.Constant) and node.value in (dead_letter.HEADER_PREFIX + "stage.version",
                                                                   dead_letter.HEADER_PREFIX + "reason"))]
    assert made == [], "build dead letters with DeadLetter.of and read them with parse_headers"


def test_the_codes_are_distinct_and_every_stage_stamps_the_same_version() -> None:
    assert len(set(dead_letter.CODES)) == len(dead_letter.CODES)
    letter = dead_letter.DeadLetter(b"k", b"v", [dead_letter.Reason(dead_letter.DECODE_ERROR, "m")], "s3-sink",
                                    "t", 0, 1)
    parsed = dead_letter.parse_headers(letter.headers())
    assert parsed is not None and parsed.stage_version == dead_letter.PIPELINE_VERSION != "0+unknown"
