"""The events tables agree with what fills them and with what replicates them."""

from __future__ import annotations

from dataclasses import fields

from sinks.event_tables import ALERTS, DEAD_LETTERS
from stream_processors.surveillance.detection import Alert
from tests.terraform.tf_model import TERRAFORM_DIR, load_dir
from warehouse.replicator import streams


def test_the_alerts_table_holds_every_field_of_an_alert_in_order() -> None:
    # sinks.events builds each row as (identity, *the Alert's fields, raised_at, lineage).
    assert ALERTS.names == ["alert_id", *(f.name for f in fields(Alert)), "raised_at", "source_topic",
                            "source_partition", "source_offset"]
    assert ALERTS.key == ("alert_id",)
    assert DEAD_LETTERS.key == ("dlq_topic", "dlq_partition", "dlq_offset")


def test_airbyte_syncs_the_same_streams_with_the_same_keys_as_the_local_replicator() -> None:
    config = load_dir(TERRAFORM_DIR / "modules" / "airbyte").variables()["streams"]["default"]
    airbyte = {name: tuple(stream["primary_key"]) for name, stream in config.items()}
    assert airbyte == {replica: table.key for replica, table in streams()}
