"""Translations. Japanese is the default UI language; English is available.

Message ids are English. Catalogues are ``ushiro/locale/<lang>/LC_MESSAGES/ushiro.po`` and
are read at start-up with Babel (no compile step). The active language is a context
variable set per request, so enum labels and templates translate lazily.
"""

from __future__ import annotations

import gettext
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
SUPPORTED = ("ja", "en")
DEFAULT_LANGUAGE = "ja"

_language: ContextVar[str] = ContextVar("ushiro_language", default=DEFAULT_LANGUAGE)


@cache
def translations(language: str) -> gettext.NullTranslations:
    po = LOCALE_DIR / language / "LC_MESSAGES" / "ushiro.po"
    if not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    result = Translations()
    for message in catalog:
        if isinstance(message.id, str) and isinstance(message.string, str) \
                and message.id and message.string and not message.fuzzy:
            result._catalog[message.id] = message.string  # noqa: SLF001 - Babel has no public setter
    return result


def set_language(language: str | None) -> None:
    _language.set(language if language in SUPPORTED else DEFAULT_LANGUAGE)


def get_language() -> str:
    return _language.get()


def gettext_(message: str) -> str:
    return translations(get_language()).gettext(message)


_ = gettext_


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Marks a msgid for the extractor where the text is translated later, when shown."""
    return message


def pick_language(preferred: str | None = None) -> str:
    """The user's own choice, else Japanese (the browser's Accept-Language is not used:
    an English-language browser on a Japanese desk still gets the Japanese UI)."""
    return preferred if preferred is not None and preferred in SUPPORTED else DEFAULT_LANGUAGE
