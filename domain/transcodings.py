"""How domain values are stored: each round-trips exactly, time zones included."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from eventsourcing.persistence import JSONTranscoder, Transcoding

from domain import values
from domain.tokens import SubjectKind


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class ZonedDatetimeAsISO(Transcoding):
    """ISO 8601 plus the IANA zone in brackets (RFC 9557), so the zone is not lost."""

    type = datetime
    name = "zoned_datetime"

    def encode(self, obj: datetime) -> str:
        text = obj.isoformat()
        if isinstance(obj.tzinfo, ZoneInfo):
            text += f"[{obj.tzinfo.key}]"
        return text

    def decode(self, data: str) -> datetime:
        if data.endswith("]"):
            text, _, key = data[:-1].partition("[")
            return datetime.fromisoformat(text).astimezone(ZoneInfo(key))
        return datetime.fromisoformat(data)


class SetAsSortedList(Transcoding):
    type = set
    name = "set"

    def encode(self, obj: set[Any]) -> list[Any]:
        return sorted(obj, key=repr)

    def decode(self, data: list[Any]) -> set[Any]:
        return set(data)


def enum_transcoding(enum: type[Enum]) -> Transcoding:
    class EnumAsValue(Transcoding):
        type = enum
        name = f"enum:{enum.__name__}"

        def encode(self, obj: Enum) -> Any:
            return obj.value

        def decode(self, data: Any) -> Enum:
            return enum(data)

    return EnumAsValue()


class FeeScheduleAsDict(Transcoding):
    type = values.FeeSchedule
    name = "fee_schedule"

    def encode(self, obj: values.FeeSchedule) -> dict[str, Any]:
        return obj.as_dict()

    def decode(self, data: dict[str, Any]) -> values.FeeSchedule:
        return values.FeeSchedule.from_dict(data)


class FeePeriodAsDict(Transcoding):
    type = values.FeePeriod
    name = "fee_period"

    def encode(self, obj: values.FeePeriod) -> dict[str, Any]:
        return {"effective_from": obj.effective_from, "fees": obj.fees}

    def decode(self, data: dict[str, Any]) -> values.FeePeriod:
        return values.FeePeriod(data["effective_from"], data["fees"])


ENUMS: tuple[type[Enum], ...] = (
    values.Modality,
    values.ProblemArea,
    values.Format,
    values.GroupStatus,
    values.SessionKind,
    values.SessionStatus,
    values.Cadence,
    values.AttendanceStatus,
    values.EnrollmentStatus,
    values.InvitationStatus,
    values.ResourceKind,
    SubjectKind,
)


def register_all(transcoder: JSONTranscoder) -> None:
    transcoder.register(DateAsISO())
    transcoder.register(ZonedDatetimeAsISO())
    transcoder.register(SetAsSortedList())
    transcoder.register(FeeScheduleAsDict())
    transcoder.register(FeePeriodAsDict())
    for enum in ENUMS:
        transcoder.register(enum_transcoding(enum))
