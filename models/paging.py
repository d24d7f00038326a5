"""Lists are paged in the database, one way: a window of rows plus whether more follow (one row
over the window is read to know), and the total when the wire format reports one."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class Page:
    rows: list
    has_more: bool
    total: int | None = None
    offset: int = 0

    @property
    def next_offset(self) -> int | None:
        return self.offset + len(self.rows) if self.has_more else None


def window(query, offset: int, size: int, *, total: bool = False) -> Page:
    """`size` rows of an ordered query from `offset` (0-based)."""
    offset = max(offset, 0)
    rows = list(query.offset(offset).limit(size + 1))
    return Page(rows[:size], len(rows) > size, query.count() if total else None, offset)


def page(query, number: int, size: int, *, total: bool = False) -> Page:
    """Page `number` (1-based) of `size` rows of an ordered query."""
    return window(query, (max(number, 1) - 1) * size, size, total=total)
