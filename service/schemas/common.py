"""Fields and shapes every resource uses: clean text, ids, local times, pages, problems."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}$"
LOCAL_DATETIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})?$"
AMOUNT_PATTERN = r"^\d{1,9}(\.\d{1,3})?$"
_NOT_CONTROL = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
TEXT_PATTERN = rf"^{_NOT_CONTROL}*\S{_NOT_CONTROL}*$"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_PAGE = 200
INT = {"type": "integer"}


class Text(fields.String):
    """Human text: trimmed, non-empty, no control characters, encodable as UTF-8."""

    def __init__(self, max_length: int = 200, **kwargs: Any) -> None:
        kwargs.setdefault("validate", validate.Length(min=1, max=max_length))
        kwargs.setdefault("metadata", {})
        kwargs["metadata"] = {
            "pattern": r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*\S[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$",
            **kwargs["metadata"],
        }
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text: str = super()._deserialize(value, attr, data, **kwargs)
        if _CONTROL.search(text):
            raise ValidationError("Must not contain control characters.")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("Must be valid Unicode text.") from None
        if not text.strip():
            raise ValidationError("Must not be blank.")
        return text.strip()


def Id(**kwargs: Any) -> fields.String:  # noqa: N802 - reads like a field class
    """A clinic identifier (patient, therapist, room): letters, digits and . _ : @ -."""
    kwargs.setdefault("metadata", {})
    kwargs["metadata"] = {
        "description": "The clinic's own identifier, e.g. an EHR record number.",
        "example": "p-1001",
        **kwargs["metadata"],
    }
    return fields.String(
        validate=validate.Regexp(ID_PATTERN, error="Must be 1–100 letters, digits or . _ : @ -."),
        **kwargs,
    )


def LocalDateTime(**kwargs: Any) -> fields.String:  # noqa: N802
    """Wall-clock time in the group's zone ('2027-03-14T18:00'); an offset is converted."""
    kwargs.setdefault("metadata", {})
    kwargs["metadata"] = {
        "description": "Local wall-clock time in the group's time zone, e.g. 2027-03-14T18:00; "
        "an explicit offset is accepted and converted. A time the clocks skip is refused; in "
        "the hour that repeats when they go back, a time without an offset is the first one, "
        "and an offset picks which (2027-11-07T01:30-05:00 is the second 01:30 in New York).",
        "example": "2027-03-14T18:00",
        **kwargs["metadata"],
    }
    return fields.String(
        validate=validate.Regexp(
            LOCAL_DATETIME_PATTERN, error="Must be a local date-time like 2027-03-14T18:00."
        ),
        **kwargs,
    )


def Amount(**kwargs: Any) -> fields.String:  # noqa: N802
    kwargs.setdefault("metadata", {})
    kwargs["metadata"] = {"description": "A decimal amount as a string", "example": "85.00"}
    return fields.String(
        validate=validate.Regexp(AMOUNT_PATTERN, error="Must be a decimal string like '85.00'."),
        **kwargs,
    )


def Money(**kwargs: Any) -> fields.Decimal:  # noqa: N802
    """An exact amount in responses, as a decimal string ("85.00"), never a float."""
    kwargs.setdefault("metadata", {})
    kwargs["metadata"] = {"type": "string", "example": "85.00", **kwargs["metadata"]}
    return fields.Decimal(as_string=True, **kwargs)


class Strict(Schema):
    """Requests refuse unknown fields (marshmallow's default, made explicit)."""

    class Meta:
        ordered = True


class Out(Schema):
    """Responses may grow fields; clients should ignore what they do not know."""

    class Meta:
        ordered = True
        unknown = EXCLUDE


def SecretWithheld() -> fields.Boolean:  # noqa: N802 - reads like a field class
    """Says whether this answer is an idempotent replay whose secret fields were withheld."""
    return fields.Boolean(
        required=True,
        dump_default=False,
        metadata={
            "description": "false on the answer that shows the secret. A replay of the "
            "request with the same Idempotency-Key answers the same body with every secret "
            "field null and this field true: secrets are never stored, so a lost secret "
            "cannot be fetched again — issue a new one instead."
        },
    )


class PageQuery(Strict):
    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(1, MAX_PAGE),
        metadata={"description": f"Items per page, 1–{MAX_PAGE}."},
    )
    cursor = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^[A-Za-z0-9_=-]{1,200}$", error="Not a cursor from this API."),
        metadata={"description": "next_cursor from the previous page."},
    )


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """The paged list envelope around one item shape."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item), required=True),
            "next_cursor": fields.String(
                allow_none=True,
                required=True,
                metadata={"description": "Pass as ?cursor= for the next page; null at the end."},
            ),
        },
        name=name,
    )


class Problem(Out):
    """RFC 9457 problem details: every refusal has these four fields."""

    type = fields.String(required=True, metadata={"example": "urn:circles:problem:not-found"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)


class ValidationProblem(Problem):
    """422: the fields that are invalid, each with its messages."""

    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={
            "description": "Messages per field, e.g. {'fees.session_fee': ['...']}; absent "
            "when the refusal is not about a field (an Idempotency-Key reused)."
        },
    )


class NotFoundProblem(Problem):
    """404; a feed asked for someone unknown also says why and whom."""

    reason = fields.String(
        metadata={
            "description": "Why a feed cannot be issued for the subject",
            "enum": ["never-enrolled", "facilitates-no-group"],
        }
    )
    patient_id = fields.String(metadata={"description": "With never-enrolled: the patient"})
    therapist_id = fields.String(
        metadata={"description": "With facilitates-no-group: the therapist"}
    )


class ConflictProblem(Problem):
    """409; a double booking names what collides, a duplicate enrollment the existing one."""

    colliding_session_id = fields.String(
        metadata={"description": "On a double booking: the session it collides with."}
    )
    resource = fields.String(
        metadata={
            "description": "On a double booking: the therapist or room booked twice, "
            "as therapist:<id> or room:<id>.",
            "example": "therapist:t-ana",
        }
    )
    enrollment_id = fields.String(
        metadata={
            "description": "On an enrollment that already exists: its id.",
            "format": "uuid",
        }
    )
    closes_at = fields.String(
        metadata={"description": "On admission-closed: when the group closed to newcomers."}
    )


class StaleVersionProblem(Problem):
    """412: If-Match named a version that is no longer the current one."""

    current_version = fields.Integer(
        required=True, metadata={"description": "The current version (also the ETag)."}
    )


class HistoryEvent(Out):
    version = fields.Integer(required=True)
    type = fields.String(required=True, metadata={"example": "TherapyGroup.Created"})
    occurred_at = fields.DateTime(required=True)
    actor = fields.String(allow_none=True, required=True)
    data = fields.Dict(required=True)


HistoryPage = page_of(HistoryEvent, "HistoryPage")


def attributes(schema: Schema, obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The raw attribute values a schema will dump, read from an object into a dict."""
    return {
        (f.attribute or name): getattr(obj, f.attribute or name)
        for name, f in schema.dump_fields.items()
        if name not in skip and hasattr(obj, f.attribute or name)
    }
