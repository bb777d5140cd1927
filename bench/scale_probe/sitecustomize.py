"""In-process probe of ``bench/scale.py``, loaded into the server and worker processes it
starts (this directory is put on their PYTHONPATH; Python imports ``sitecustomize`` at
start-up, also in uvicorn's spawned worker processes). Inactive unless
``USHIRO_SCALE_PROBE_DIR`` is set. It changes no behaviour of the product; it observes:

* **garbage collections** (``gc.callbacks``): generation and pause of each one;
* **index builds**: calls of the functions named in ``USHIRO_SCALE_PROBE_BUILDS``
  (``module:function``, comma-separated, a trailing ``?`` when the function may not exist;
  default the builder ``ushiro.knowledge.retrieval.index:_build_index`` and, where the code
  persists indexes, its loader ``_load``), wrapped when their module is imported, with
  whatever arguments the product passes; a call that returns None (nothing loaded) is not
  counted. The first name is the builder;
* **search**: a route ``GET /__scale/search?tenant=ID&q=…`` added to the app, which runs
  ``knowledge.search`` as the tenant's command-line principal (the product has no search
  endpoint of its own: search runs inside drafting and the chat) and answers with the time
  it took inside the process and whether it built an index.

Events go to ``<dir>/<pid>.jsonl``, written by a daemon thread twice a second, so the
observed code only appends to a list.
"""

from __future__ import annotations

import gc
import importlib.abc
import importlib.machinery
import json
import os
import sys
import threading
import time
from collections import deque
from typing import Any

_DIR = os.environ.get("USHIRO_SCALE_PROBE_DIR")
# The builder, and (where the code has one: a trailing ? is optional) the loader of a
# persisted index, which returns None when there is nothing to load.
_DEFAULT_BUILDS = ("ushiro.knowledge.retrieval.index:_build_index,"
                   "ushiro.knowledge.retrieval.index:_load?")
_events: deque[list[Any]] = deque()  # append/popleft: safe from any thread and gc
_local = threading.local()


def _emit(*event: Any) -> None:
    _events.append([time.time(), *event])


def _flusher(path: str) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps([time.time(), "start", os.getpid(), sys.argv[:4]]) + "\n")
        out.flush()
        while True:
            time.sleep(0.5)
            batch = [_events.popleft() for _ in range(len(_events))]
            if batch:
                out.write("".join(json.dumps(e) + "\n" for e in batch))
                out.flush()


class _GcTimer:
    started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            _emit("gc", info["generation"], (time.perf_counter() - self.started) * 1000)


def _counted(name: str, func: Any) -> Any:
    """Calls that returned something (a load that found nothing returns None) are counted
    for the thread's current search and logged with their time."""
    def build(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        result = func(*args, **kwargs)
        if result is not None:
            ms = (time.perf_counter() - began) * 1000
            tenant = args[1] if len(args) > 1 and isinstance(args[1], int) else None
            calls = getattr(_local, "calls", None)
            if calls is not None:
                calls[name] = calls.get(name, 0) + 1
            _emit("build", name, tenant, ms)
        return result

    build.__wrapped__ = func  # type: ignore[attr-defined]
    return build


def _search_route(app: Any) -> None:
    from ushiro import knowledge
    from ushiro.identity import command_line

    rt = app.state.rt

    def scale_search(tenant: int, q: str) -> dict[str, Any]:
        _local.calls = calls = {}
        began = time.perf_counter()
        hits = knowledge.search(rt, command_line(tenant), q, k=10)
        ms = (time.perf_counter() - began) * 1000
        _local.calls = None
        built = calls.get(_PRIMARY, 0)
        _emit("search", tenant, ms, built)
        return {"ms": ms, "built": built, "calls": calls, "hits": len(hits),
                "pid": os.getpid()}

    app.add_api_route("/__scale/search", scale_search, methods=["GET"])
    _emit("app")


def _patch(module: Any, name: str) -> None:
    if name == "ushiro.app":
        create = module.create_app

        def create_app(*args: Any, **kwargs: Any) -> Any:
            app = create(*args, **kwargs)
            _search_route(app)
            return app

        module.create_app = create_app
    for target in _TARGETS.get(name, ()):
        optional = target.endswith("?")
        target = target.rstrip("?")
        func = getattr(module, target, None)
        if func is None:
            if not optional:
                _emit("missing", f"{name}:{target}")
        else:
            setattr(module, target, _counted(target, func))


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: Any, name: str) -> None:
        self.inner, self.name = inner, name

    def create_module(self, spec: Any) -> Any:
        return self.inner.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.inner.exec_module(module)
        _patch(module, self.name)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in _WATCHED:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, name)
        return spec


_TARGETS: dict[str, list[str]] = {}
_WATCHED: set[str] = set()

_PRIMARY = ""  # the builder: what a search's ``built`` counts

if _DIR:
    for item in os.environ.get("USHIRO_SCALE_PROBE_BUILDS", _DEFAULT_BUILDS).split(","):
        module_name, _, function = item.strip().partition(":")
        _TARGETS.setdefault(module_name, []).append(function)
        _PRIMARY = _PRIMARY or function.rstrip("?")
    _WATCHED.update(_TARGETS, {"ushiro.app"})
    sys.meta_path.insert(0, _Finder())
    gc.callbacks.append(_GcTimer())
    threading.Thread(target=_flusher, args=(os.path.join(_DIR, f"{os.getpid()}.jsonl"),),
                     name="scale-probe", daemon=True).start()
