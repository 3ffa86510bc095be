"""Fields and shapes every resource uses: clean text, ids, local times, pages, problems."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from domain.bounds import (
    CURRENCY_PATTERN,
    EARLIEST,
    EARLIEST_DATE,
    ID_PATTERN,
    LATEST,
    LATEST_DATE,
    LOCAL_DATETIME_PATTERN,
    MULTILINE_TEXT_PATTERN,
    REASON_LENGTH,
    TEXT_PATTERN,
    canonical_zone,
    clean_text,
    currency_code,
    within_bounds,
)
from domain.errors import InvalidInputError

AMOUNT_PATTERN = r"^\d{1,9}(\.\d{1,3})?$"
MAX_PAGE = 200
INT = {"type": "integer"}


def domain_check(check: Callable[..., Any], *args: Any) -> Callable[[Any], None]:
    """A marshmallow validator that runs one of ``domain.bounds``'s checks: the schema
    refuses what the domain would, with the domain's words."""

    def validator(value: Any) -> None:
        try:
            check(value, *args)
        except InvalidInputError as error:
            raise ValidationError(error.message) from None

    return validator


class Text(fields.String):
    """Human text: trimmed, non-empty, no control characters (``multiline``: line breaks
    allowed), valid Unicode; the domain's own rule (``domain.bounds.clean_text``)."""

    def __init__(self, max_length: int = 200, multiline: bool = False, **kwargs: Any) -> None:
        self.max_length = max_length
        self.multiline = multiline
        kwargs.setdefault("validate", validate.Length(min=1, max=max_length))
        kwargs.setdefault("metadata", {})
        kwargs["metadata"] = {
            "pattern": MULTILINE_TEXT_PATTERN if multiline else TEXT_PATTERN,
            **kwargs["metadata"],
        }
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text: str = super()._deserialize(value, attr, data, **kwargs)
        try:
            return clean_text(text, attr or "the text", self.max_length, self.multiline)
        except InvalidInputError as error:
            raise ValidationError(error.message) from None


def Reason(**kwargs: Any) -> Text:  # noqa: N802 - reads like a field class
    """Why something was done: up to 500 characters, the one kind of text with line breaks."""
    return Text(max_length=REASON_LENGTH, multiline=True, **kwargs)


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
    """Wall-clock time in the group's zone ('2027-03-14T18:00'); an offset is converted.
    The domain reads it in the group's zone and checks its bounds (SPEC §5)."""
    kwargs.setdefault("metadata", {})
    kwargs["metadata"] = {
        "description": "Local wall-clock time in the group's time zone, e.g. 2027-03-14T18:00; "
        "an explicit offset is accepted and converted. A time the clocks skip is refused; in "
        "the hour that repeats when they go back, a time without an offset is the first one, "
        "and an offset picks which (2027-11-07T01:30-05:00 is the second 01:30 in New York). "
        f"From {EARLIEST_DATE} to before {LATEST_DATE}.",
        "example": "2027-03-14T18:00",
        **kwargs["metadata"],
    }
    return fields.String(
        validate=validate.Regexp(
            LOCAL_DATETIME_PATTERN, error="Must be a local date-time like 2027-03-14T18:00."
        ),
        **kwargs,
    )


def Instant(**kwargs: Any) -> fields.AwareDateTime:  # noqa: N802
    """A query's bound: a date-time with an offset, within the input bounds."""
    kwargs.setdefault("metadata", {})
    description = kwargs["metadata"].get("description", "")
    kwargs["metadata"] = {
        **kwargs["metadata"],
        "description": f"{description} (with an offset; from {EARLIEST_DATE} to before "
        f"{LATEST_DATE})".strip(),
    }
    return fields.AwareDateTime(validate=domain_check(within_bounds, "time"), **kwargs)


class RangeEnd(fields.AwareDateTime):
    """A query range's end (with an offset): one past the input bounds is read as their end
    (no session lies beyond it), one before their start is refused."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            beyond = moment.astimezone(UTC) >= LATEST
        except (OverflowError, ValueError):
            beyond = moment.year > EARLIEST.year
        if beyond:
            return LATEST
        try:
            within_bounds(moment, attr or "end")
        except InvalidInputError as error:
            raise ValidationError(error.message) from None
        return moment


def BoundedDate(**kwargs: Any) -> fields.Date:  # noqa: N802
    """A calendar date within the input bounds (SPEC §5)."""
    kwargs.setdefault(
        "validate",
        validate.Range(
            EARLIEST_DATE,
            LATEST_DATE,
            max_inclusive=False,
            error=f"Must be a date from {EARLIEST_DATE} to before {LATEST_DATE}.",
        ),
    )
    return fields.Date(**kwargs)


def TimeZone(**kwargs: Any) -> fields.String:  # noqa: N802
    """A canonical IANA zone name (no posix/, right/, localtime, Factory, EST5EDT)."""
    kwargs.setdefault("metadata", {})
    kwargs["metadata"] = {
        "description": "A canonical IANA time zone name (Area/City, or UTC)",
        "example": "America/New_York",
        **kwargs["metadata"],
    }
    return fields.String(validate=[validate.Length(1, 64), domain_check(canonical_zone)], **kwargs)


def CurrencyCode(**kwargs: Any) -> fields.String:  # noqa: N802
    """An ISO 4217 currency code."""
    kwargs.setdefault("metadata", {})
    kwargs["metadata"] = {"example": "USD", "pattern": CURRENCY_PATTERN, **kwargs["metadata"]}
    return fields.String(validate=domain_check(currency_code), **kwargs)


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
