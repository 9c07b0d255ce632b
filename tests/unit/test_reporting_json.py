"""The JSON API writes views with orjson (``http_api.public``): the same JSON that FastAPI's
``jsonable_encoder`` gives for every type views are made of, numbers' kinds included (a whole
decimal is an int, a decimal with places a float)."""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from fastapi import Response
from fastapi.encoders import jsonable_encoder
from markupsafe import Markup
from pydantic import BaseModel

from arc_reporting.http_api import public


class Kind(enum.Enum):
    TEST = "test"


class Note(BaseModel):
    text: str
    score: Decimal


@dataclasses.dataclass(frozen=True)
class Inner:
    value: Decimal | None
    at: datetime
    kind: Kind


@dataclasses.dataclass
class View:
    title: str
    whole: Decimal
    places: Decimal
    same_number_with_a_place: Decimal
    exponent: Decimal
    nothing: None
    when: datetime
    elsewhere: datetime
    day: date
    pair: tuple[str, int]
    inner: list[Inner]
    by_number: dict[int, str]
    by_name: dict[str, Decimal]
    markup: Markup
    note: Note
    ratio: float
    secret: str


def _view() -> View:
    at = datetime(2026, 11, 25, 14, 5, 6, 789012, tzinfo=UTC)
    return View(
        title="Ratios – 6ᵉ",
        whole=Decimal("3"),
        places=Decimal("2.50"),
        same_number_with_a_place=Decimal("3.0"),
        exponent=Decimal("1E+1"),
        nothing=None,
        when=at,
        elsewhere=at.astimezone(timezone(timedelta(hours=-5))),
        day=date(2026, 9, 1),
        pair=("a", 1),
        inner=[Inner(Decimal("3.25"), at, Kind.TEST), Inner(None, at, Kind.TEST)],
        by_number={1: "one", 2: "two"},
        by_name={"level": Decimal("4")},
        markup=Markup("<b>bold</b>"),
        note=Note(text="n", score=Decimal("1.5")),
        ratio=0.1,
        secret="not shown",
    )


def _body(reply: Response) -> Any:
    return json.loads(bytes(reply.body))


def _written(data: Any) -> str:
    """JSON text in one canonical form: keys sorted, and 3 and 3.0 still told apart."""
    return json.dumps(data, sort_keys=True)


def test_a_view_is_written_as_jsonable_encoder_gives_it() -> None:
    view = _view()
    expected = jsonable_encoder(view)
    expected.pop("secret")
    reply = public(view, "secret")
    assert reply.media_type == "application/json"
    assert _written(_body(reply)) == _written(expected)


def test_whole_decimals_are_ints_and_decimals_with_places_are_floats() -> None:
    body = _body(public(_view()))
    assert type(body["whole"]) is int and body["whole"] == 3
    assert type(body["same_number_with_a_place"]) is float  # equal to 3, but written 3.0
    assert body["places"] == 2.5 and body["exponent"] == 10
    assert body["inner"][0]["value"] == 3.25
    assert body["when"] == "2026-11-25T14:05:06.789012+00:00"
    assert body["elsewhere"] == "2026-11-25T09:05:06.789012-05:00"


def test_hidden_fields_are_left_out_and_extra_fields_added() -> None:
    body = _body(public(_view(), "secret", "inner", level=Decimal("2"), mastered=False))
    assert "secret" not in body and "inner" not in body
    assert body["level"] == 2 and type(body["level"]) is int
    assert body["mastered"] is False
