"""pydantic models of a schedule's ``trigger`` (docs/api.md 2.1-2.3): when it fires.

Time rules are relative to the validation context ``{"now": aware datetime, "tz": ZoneInfo}``
passed to ``Schedule.model_validate(data, context=...)``; without it they use the current time
in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from reconciler.manifests.base import StrictModel, describe, fail, no_bool
from reconciler.planning.canonical import TRIGGER_KINDS, WEEKDAYS, TriggerKind
from reconciler.planning.timing import (
    DATETIME_FORMAT,
    DATETIME_PATTERN,
    parse_api_datetime,
    parse_api_time,
)

DATETIME_SCHEMA = {
    "type": "string",
    "pattern": f"^{DATETIME_PATTERN}$",
    "examples": ["2027-03-01 09:00:00"],
}


def _context(info: ValidationInfo) -> tuple[datetime, tzinfo]:
    """The injected "now" and time zone (see the module docstring)."""
    ctx = info.context if isinstance(info.context, dict) else {}
    now = ctx.get("now")
    zone = ctx.get("tz")
    if not isinstance(zone, tzinfo):
        zone = UTC
    if not isinstance(now, datetime) or now.tzinfo is None:
        now = datetime.now(UTC)
    return now, zone


def one_year_after(moment: datetime) -> datetime:
    """The same wall-clock time one calendar year later (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year + 1)
    except ValueError:
        return moment.replace(year=moment.year + 1, day=28)


def _api_datetime(value: str, what: str) -> datetime:
    parsed = parse_api_datetime(value)
    if parsed is None:
        if re.fullmatch(DATETIME_PATTERN, value):
            fail(f"{value!r} is not a real date and time")
        fail(
            f'{value!r} is not a {what} in the form "yyyy-MM-dd HH:mm:ss" '
            '(e.g. "2027-03-01 09:00:00"); the API accepts no other form (docs/api.md 2.1)'
        )
    return parsed


def _not_beyond_one_year(moment: datetime, value: str, info: ValidationInfo) -> None:
    # docs/api.md 2.1: at most one year in the future. zone_type 1 times are in the app's time zone,
    # the environment's `timezone`; zone_type 2 (device time) is checked against it as well.
    # Past times are not errors: the planner skips a schedule that can no longer fire.
    now, zone = _context(info)
    limit = one_year_after(now.astimezone(zone))
    if moment.replace(tzinfo=zone) > limit:
        fail(
            f"{value} is more than one year ahead (it is now "
            f"{now.astimezone(zone).strftime(DATETIME_FORMAT)} in {zone}); the API accepts "
            "times at most one year in the future (docs/api.md 2.1)"
        )


ZoneType = Annotated[
    Literal[1, 2],
    BeforeValidator(no_bool),
    Field(description="1 = the app's time zone (the environment's `timezone`), 2 = the device's."),
]
ApiDateTime = Annotated[str, WithJsonSchema(DATETIME_SCHEMA)]


class Single(StrictModel):
    """``trigger.single``: fire once (docs/api.md 2.1)."""

    time: ApiDateTime
    zone_type: ZoneType

    @field_validator("time")
    @classmethod
    def _time(cls, value: str, info: ValidationInfo) -> str:
        _not_beyond_one_year(_api_datetime(value, "date-time"), value, info)
        return value


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class Periodical(StrictModel):
    """``trigger.periodical``: fire every day, week or month between start and end (docs/api.md
    2.2)."""

    start: ApiDateTime
    end: ApiDateTime
    time: Annotated[
        str,
        WithJsonSchema(
            {"type": "string", "pattern": r"^[0-9]{2}:[0-9]{2}:[0-9]{2}$", "examples": ["09:00:00"]}
        ),
    ]
    time_unit: Annotated[Literal["day", "week", "month"], BeforeValidator(_lower)]
    point: Annotated[
        list[str] | None,
        WithJsonSchema(
            {
                "type": "array",
                "description": "week: MON..SUN; month: 01..31; day: empty or absent",
                "items": {"type": ["string", "integer"]},
            }
        ),
    ] = Field(default=None, validate_default=True)
    frequency: Annotated[int | None, Field(ge=1, le=100, description="every N units")] = None
    zone_type: ZoneType

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        # docs/api.md 2.2 limits the span (see `end`), not how far ahead a periodical task starts.
        _api_datetime(value, "date-time")
        return value

    @field_validator("end")
    @classmethod
    def _end(cls, value: str, info: ValidationInfo) -> str:
        end = _api_datetime(value, "date-time")
        start_text = info.data.get("start")
        start = parse_api_datetime(start_text) if isinstance(start_text, str) else None
        if start is not None:
            if end <= start:
                fail(f"end {value} must be after start {start_text} (docs/api.md 2.2)")
            if end > one_year_after(start):
                fail(
                    f"runs from {start_text} to {value}, more than one year; the API allows "
                    "at most one year between start and end (docs/api.md 2.2)"
                )
        return value

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        if parse_api_time(value) is None:
            fail(
                f'{value!r} is not a time of day in the form "HH:mm:ss" (24 h, zero-padded, '
                'e.g. "09:00:00") (docs/api.md 2.2)'
            )
        return value

    @field_validator("point", mode="before")
    @classmethod
    def _point(cls, value: Any, info: ValidationInfo) -> Any:
        unit = info.data.get("time_unit")
        if value is None:
            if unit in ("week", "month"):
                example = "[MON, FRI]" if unit == "week" else '["01", "15"]'
                fail(f"time_unit {unit} needs point: the days it fires on, e.g. {example}")
            return None
        if not isinstance(value, list):
            fail(f"must be a list (e.g. [MON, FRI] or [1, 15]), got {describe(value)}")
        if unit == "day":
            if value:
                fail(
                    "is not used with time_unit day (docs/api.md 2.2): remove it or write point: []"
                )
            return value
        if unit == "week":
            return _week_points(value)
        if unit == "month":
            return _month_points(value)
        return [_month_point_text(p) or p for p in value]  # time_unit itself is wrong


def _week_points(points: list[Any]) -> list[str]:
    if not points:
        fail("time_unit week needs at least one weekday, e.g. [MON, FRI]")
    out: list[str] = []
    for n, point in enumerate(points):
        day = point.upper() if isinstance(point, str) else None
        if day not in WEEKDAYS:
            fail(
                f"[{n}] {describe(point)} is not a weekday; use MON, TUE, WED, THU, FRI, SAT or "
                "SUN (any case) (docs/api.md 2.2)"
            )
        if day in out:
            fail(f"[{n}] {day} is listed twice")
        out.append(day)
    return out


def _month_point_text(point: Any) -> str | None:
    if isinstance(point, bool):
        return None
    if isinstance(point, int) and 1 <= point <= 31:
        return f"{point:02d}"
    if isinstance(point, str) and re.fullmatch(r"[0-9]{1,2}", point) and 1 <= int(point) <= 31:
        return f"{int(point):02d}"
    return None


def _month_points(points: list[Any]) -> list[str]:
    if not points:
        fail('time_unit month needs at least one day of the month, e.g. ["01", "15"]')
    out: list[str] = []
    for n, point in enumerate(points):
        day = _month_point_text(point)
        if day is None:
            fail(
                f'[{n}] {describe(point)} is not a day of the month; use "01".."31" '
                "(docs/api.md 2.2)"
            )
        if day in out:
            fail(f"[{n}] {day} is listed twice")
        out.append(day)
    return out


class Intelligent(StrictModel):
    """``trigger.intelligent``: intelligent delivery (docs/api.md 2.3)."""

    backup_time: Annotated[
        str,
        WithJsonSchema(
            {
                "description": 'when to send to users without activity data: "now" or a time',
                "anyOf": [{"const": "now"}, DATETIME_SCHEMA],
            }
        ),
    ]

    @field_validator("backup_time")
    @classmethod
    def _backup_time(cls, value: str, info: ValidationInfo) -> str:
        if value != "now":
            _not_beyond_one_year(_api_datetime(value, '"now" or a date-time'), value, info)
        return value


class Trigger(StrictModel):
    """When the schedule fires: exactly one of ``single``, ``periodical``, ``intelligent``."""

    single: Single | None = None
    periodical: Periodical | None = None
    intelligent: Intelligent | None = None

    @model_validator(mode="before")
    @classmethod
    def _at_most_one(cls, data: Any) -> Any:
        if isinstance(data, dict):
            kinds = [k for k in TRIGGER_KINDS if data.get(k) is not None]
            if len(kinds) > 1:
                fail(
                    f"has {' and '.join(kinds)}; give exactly one of single, periodical, "
                    "intelligent (a schedule has one trigger, docs/api.md 2)"
                )
        return data

    @model_validator(mode="after")
    def _at_least_one(self) -> Trigger:
        if self.kind_or_none() is None:
            fail("needs one of single, periodical or intelligent (docs/api.md 2)")
        return self

    def kind_or_none(self) -> TriggerKind | None:
        for kind in TRIGGER_KINDS:
            if getattr(self, kind) is not None:
                return kind
        return None
