"""The ranges input values must lie in: one definition used by every path, query, form and
body parameter, so that no value reaches the database that it cannot hold.

Ids are INTEGER columns (int4 on PostgreSQL, int64 on SQLite): an id above 2**31 − 1 or a
page whose offset overflows is refused as a validation error, like any other bad input,
instead of failing in the database driver."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

MAX_ID = 2**31 - 1
MAX_PAGE = 1_000_000
EARLIEST_YEAR, LATEST_YEAR = 2000, 2199

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
"""The id of a stored row (path parameters, id fields of forms and bodies)."""

PageNumber = Annotated[int, Field(ge=1, le=MAX_PAGE)]


def _plausible(value: datetime) -> datetime:
    # A few days off either end of a timestamp's range overflow while converting to UTC;
    # any date of a back office's work lies well inside these years.
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise PydanticCustomError("date_out_of_range", "date out of range",
                                  {"earliest": EARLIEST_YEAR, "latest": LATEST_YEAR})
    return value


PlausibleDatetime = Annotated[datetime, AfterValidator(_plausible)]


def parse_id(text: str | None) -> int | None:
    """An id typed into a form or a query string as text: None when it is no id at all
    (empty, a word, "²", or beyond :data:`MAX_ID`)."""
    if not text or not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None
