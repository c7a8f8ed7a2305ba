"""Surveillance: weekly counts per district and diagnosis group, incidence, outbreak alerts."""

from stream_processors.surveillance.detection import (
    EARS_BASELINE_LAG,
    EARS_BASELINE_WEEKS,
    MENINGITIS_ALERT_PER_100K,
    MENINGITIS_EPIDEMIC_PER_100K,
    Alert,
    CaseKey,
    ears_c2_threshold,
    evaluate,
    incidence_per_100k,
    shift_week,
)

__all__ = [
    "EARS_BASELINE_LAG",
    "EARS_BASELINE_WEEKS",
    "MENINGITIS_ALERT_PER_100K",
    "MENINGITIS_EPIDEMIC_PER_100K",
    "Alert",
    "CaseKey",
    "ears_c2_threshold",
    "evaluate",
    "incidence_per_100k",
    "shift_week",
]
