"""What a built index costs the process that holds it, in bytes: the budget of the index cache
(``USHIRO_SEARCH_CACHE_MB``) is spent by this count.

How it counts:

* a numpy array held in memory: its ``nbytes`` (views count what they see);
* a numpy array memory-mapped from a persisted index (``np.load(mmap_mode="r")``, or a view
  of one): ``MAPPED_OBJECT`` for the objects plus 1/512 of its size, about what the page
  tables cost (8 bytes per 4 KB page). Its pages are the file's, in the page cache, shared
  by every process that maps the file and given back by the kernel under pressure: they are
  not this process's memory to budget;
* Python objects (dicts of the vocabulary, document metadata, the analyser's tables, …):
  ``sys.getsizeof`` of each object reached from the index, each counted once (an analyser
  shared by several indexes is charged to the first, see ``stored.index_bytes``). The entries of a container of more than ``SAMPLE`` are
  measured on an even sample of about ``SAMPLE`` and scaled up (within a few per cent on
  a vocabulary or the synonym tables: their entries are alike).

Measuring costs about a millisecond per index; it is done once, when the index is built or
loaded.
"""

from __future__ import annotations

import itertools
import mmap
import sys
from collections.abc import Iterable
from dataclasses import fields, is_dataclass
from typing import Any

MAPPED_OBJECT = 512
SAMPLE = 256  # children of a container measured one by one; more are sampled
_ATOMIC = (str, bytes, int, float, bool, type(None))
_ATOMIC_TYPES = frozenset(_ATOMIC)
# Objects whose attributes are walked: an index's own parts. Anything else it refers to (a
# model, a module, a class) is not owned by one index and is counted at its shallow size.
_OWNED = ("ushiro", "bm25s")


def array_bytes(array: Any) -> int:
    """An array's cost by the rule of the module docstring."""
    if mapped(array):
        return MAPPED_OBJECT + int(array.nbytes) // 512
    return int(array.nbytes) + 112


def mapped(array: Any) -> bool:
    """Whether an array's memory is a file mapping (directly or through views)."""
    import numpy as np

    base = array
    while base is not None:
        if isinstance(base, (np.memmap, mmap.mmap)):
            return True
        base = getattr(base, "base", None)
    return False


def footprint(root: object) -> int:
    """Bytes held by ``root`` and everything reachable from it (module docstring). Strings
    and numbers are counted where they are held, without tracking them, so a string held
    twice counts twice (rare in an index, and on the safe side)."""
    import numpy as np

    seen: set[int] = set()
    total = 0.0
    stack: list[tuple[object, float]] = [(root, 1.0)]  # (object, how many it stands for)
    while stack:
        obj, weight = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            total += weight * array_bytes(obj)
            continue
        total += weight * sys.getsizeof(obj)
        children = list(_children(obj))
        if len(children) > SAMPLE:
            # A large table (a vocabulary, synonyms): its entries measured on an even
            # sample, scaled up. Walking all would cost tens of milliseconds per index.
            scale = len(children) / len(children[::len(children) // SAMPLE])
            children, weight = children[::len(children) // SAMPLE], weight * scale
        inner = [child for child in children if type(child) not in _ATOMIC_TYPES]
        # Containers of strings and numbers at C speed.
        total += weight * (sum(map(sys.getsizeof, children)) - sum(map(sys.getsizeof, inner)))
        stack.extend((child, weight) for child in inner)
    return int(total)


def _children(obj: object) -> Iterable[object]:
    if isinstance(obj, _ATOMIC):
        return ()
    if isinstance(obj, dict):
        return itertools.chain(obj.keys(), obj.values())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return obj
    if isinstance(obj, type) or type(obj).__module__.split(".")[0] not in _OWNED:
        return ()  # locks, modules, functions, models: nothing an index owns
    if is_dataclass(obj):
        return [getattr(obj, f.name) for f in fields(obj)]
    state = getattr(obj, "__dict__", None)
    return (state,) if isinstance(state, dict) else ()
