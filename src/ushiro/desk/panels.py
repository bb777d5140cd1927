"""Side panels that other domains add to the desk request page.

Desk must not import the domains built on it (knowledge, answers, …). They name a
provider in their ``ushiro.domains`` entry (``panels``) and the registry registers it here
when the app is built (``domains.load_hooks``). After the request page has read the request with the
viewer's rights, each provider is called in registration order as
``provider(rt, principal, request)`` (``request`` is the :class:`RequestOut` shown) and
returns a dict with at least ``"template"`` — rendered in the page's side column with the
dict as ``panel`` — or ``None`` to show nothing. Providers do their own permission checks
for whatever else they read.

A panel may also name an ``"editor"`` template: it is rendered (with the same ``panel``)
at the top of the reply editor in the main column, and the desk's own reply form moves
under it into a collapsed 「下書きを使わずに返信・内部メモを書く」. The first panel that names
one gets the place (answers: the open draft, to edit and send, beside its cited clauses).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ushiro.core.runtime import Runtime
from ushiro.desk.schemas import RequestOut
from ushiro.identity import Principal

Panel = dict[str, Any]
Provider = Callable[[Runtime, Principal, RequestOut], Panel | None]

PROVIDERS: list[Provider] = []


def register(provider: Provider) -> Provider:
    """Add a provider once (importing a module twice does not show its panel twice)."""
    if provider not in PROVIDERS:
        PROVIDERS.append(provider)
    return provider


def collect(rt: Runtime, principal: Principal, request: RequestOut) -> list[Panel]:
    panels = []
    for provider in PROVIDERS:
        panel = provider(rt, principal, request)
        if panel is not None:
            panels.append(panel)
    return panels
