"""Stand-ins for confluent_kafka.Message and a clock, for buffer and batch tests."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FakeMessage:
    """The slice of ``confluent_kafka.Message`` the sinks read."""

    _offset: int
    _value: bytes = b"v" * 10
    _ts: int = 0
    _key: bytes | None = None
    _topic: str = "t"
    _partition: int = 0
    _headers: list[tuple[str, bytes]] = field(default_factory=list)

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return (1, self._ts)

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes:
        return self._value

    def headers(self) -> list[tuple[str, bytes]]:
        return self._headers

    def error(self) -> None:
        return None


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
