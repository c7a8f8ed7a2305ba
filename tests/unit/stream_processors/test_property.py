"""No input, however malformed, crashes the processor: every message yields one result."""

from __future__ import annotations

import string
from datetime import UTC, date, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import SHEET_ROW, SIMUHEALTH_ENCOUNTER, AvroCodec
from stream_processors.pipeline import InputMessage, Processor
from stream_processors.reference_view import load_reference
from stream_processors.transform import Context

CODEC = AvroCodec()
FACILITIES, ICD10 = load_reference()
NOW = datetime(2026, 11, 26, tzinfo=UTC)
PROCESSOR = Processor(codec=CODEC, routes={"simuhealth": ["ops"], "gsheet": ["lake"]},
                      context=lambda: Context(FACILITIES, ICD10, b"s" * 32, NOW))

text = st.text(alphabet=string.printable + "éŋɔ’", max_size=30)
maybe_text = st.one_of(st.none(), text)
moment = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
facility = st.one_of(st.sampled_from(sorted(FACILITIES)[:50]), text)
code = st.one_of(st.sampled_from(sorted(ICD10)), text)

encounters = st.fixed_dictionaries({
    "encounter_id": text, "facility_id": facility, "country_code": text, "region": text, "district": text,
    "encounter_time": moment,
    "patient": st.fixed_dictionaries({
        "patient_id": text, "national_id": maybe_text, "given_name": text, "family_name": text,
        "sex": st.one_of(st.sampled_from(["F", "M", "f", "x", ""]), text),
        "birth_date": st.one_of(st.none(), st.dates(min_value=date(1800, 1, 1), max_value=date(2200, 1, 1))),
        "age_years": st.one_of(st.none(), st.integers(min_value=-(2**31), max_value=2**31 - 1)),
        "phone": maybe_text, "email": maybe_text, "address": maybe_text}),
    "diagnosis": st.fixed_dictionaries({"icd10_code": code, "description": maybe_text,
                                        "certainty": st.one_of(st.sampled_from(["suspected", "confirmed"]), text)}),
    "severity": text, "outcome": text, "produced_at": moment,
})
sheet_rows = st.fixed_dictionaries({
    "sheet_id": text, "tab": text, "row_number": st.integers(min_value=0, max_value=10**6), "row_key": text,
    "content_hash": text, "polled_at": moment,
    "cells": st.dictionaries(st.sampled_from(["facility_id", "encounter_date", "sex", "age_years", "birth_date",
                                              "icd10_code", "patient_id", "national_id", "severity", "outcome",
                                              "certainty", "country_code", "region", "district"]),
                             st.one_of(text, facility, code, st.dates().map(str))),
})
values = st.one_of(
    st.binary(max_size=200),
    encounters.map(lambda r: CODEC.encode(SIMUHEALTH_ENCOUNTER, r)),
    sheet_rows.map(lambda r: CODEC.encode(SHEET_ROW, r)),
    encounters.map(lambda r: CODEC.encode(SIMUHEALTH_ENCOUNTER, r)[:-3]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(values, min_size=1, max_size=8))
def test_any_batch_yields_one_result_per_message_and_never_raises(batch: list[bytes]) -> None:
    msgs = [InputMessage("raw", 0, i, 1_795_000_000_000, b"k", v) for i, v in enumerate(batch)]
    results = PROCESSOR.process(msgs)
    assert len(results) == len(msgs)
    for msg, result in zip(msgs, results, strict=True):
        if result.dead is not None:
            assert result.outputs == [] and result.dead.value == msg.value and result.dead.reasons
        else:
            assert result.record is not None and len(result.outputs) == 1
            assert CODEC.decode(result.outputs[0].value).record["record_id"] == result.record["record_id"]
