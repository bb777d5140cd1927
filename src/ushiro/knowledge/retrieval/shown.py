"""What a hit shows, kept with the index: (document_id, section, context, page, text) per
passage id, in a few flat arrays instead of a dict of tuples.

The strings are one UTF-8 buffer with offsets, decoded when a hit is shown (ten per search):
20,000 passages hold about 10 MB of text, which as Python strings every process would keep
a private copy of; as arrays a persisted index maps them from its file, shared by every
process (persist.py), and the garbage collector has nothing to walk.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

Shown = tuple[int, str, str, int | None, str]
NO_PAGE = -1
FIELDS = 3  # strings per passage: section, context, text


class ShownPassages(Mapping[int, Shown]):
    """Read-only mapping passage id → what its hit shows. Safe to share between threads."""

    ids: np.ndarray[Any, Any]
    document_ids: np.ndarray[Any, Any]
    pages: np.ndarray[Any, Any]
    offsets: np.ndarray[Any, Any]
    blob: np.ndarray[Any, Any]

    def __init__(self, rows: Mapping[int, Shown]) -> None:
        import numpy as np

        ids = sorted(rows)
        encoded = [part.encode("utf-8", "surrogatepass")
                   for pid in ids for part in (rows[pid][1], rows[pid][2], rows[pid][4])]
        self.ids = np.array(ids, dtype=np.int64)
        self.document_ids = np.array([rows[pid][0] for pid in ids], dtype=np.int64)
        self.pages = np.array([NO_PAGE if rows[pid][3] is None else rows[pid][3] for pid in ids],
                              dtype=np.int64)
        self.offsets = np.cumsum([0] + [len(part) for part in encoded], dtype=np.int64)
        self.blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)

    def __getstate__(self) -> dict[str, Any]:
        return dict(vars(self))

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)

    def _row(self, passage_id: int) -> int | None:
        import numpy as np

        at = int(np.searchsorted(self.ids, passage_id))
        return at if at < len(self.ids) and int(self.ids[at]) == passage_id else None

    def _string(self, index: int) -> str:
        start, end = int(self.offsets[index]), int(self.offsets[index + 1])
        return self.blob[start:end].tobytes().decode("utf-8", "surrogatepass")

    def __getitem__(self, passage_id: int) -> Shown:
        at = self._row(passage_id)
        if at is None:
            raise KeyError(passage_id)
        page = int(self.pages[at])
        first = FIELDS * at
        return (int(self.document_ids[at]), self._string(first), self._string(first + 1),
                None if page == NO_PAGE else page, self._string(first + 2))

    def __contains__(self, passage_id: object) -> bool:
        return isinstance(passage_id, int) and self._row(passage_id) is not None

    def __iter__(self) -> Iterator[int]:
        return (int(pid) for pid in self.ids)

    def __len__(self) -> int:
        return len(self.ids)
