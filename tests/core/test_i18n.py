"""Translation catalogues: every UI string has Japanese, placeholders survive translation,
and the running app speaks Japanese by default.

When a test here fails after adding UI strings, run ``python scripts/i18n_extract.py`` and
fill in the new ``msgstr`` entries of ``src/ushiro/locale/ja/LC_MESSAGES/ushiro.po``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from fastapi.testclient import TestClient

from ushiro.core import i18n
from ushiro.desk.choices import Status

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "i18n_extract.py"


@pytest.fixture(scope="module")
def extractor() -> ModuleType:
    spec = importlib.util.spec_from_file_location("i18n_extract", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def language() -> Iterator[None]:
    yield
    i18n.set_language("ja")


def test_extractor_finds_template_python_and_enum_msgids(extractor: ModuleType) -> None:
    found = extractor.extract()
    for msgid in ("Log in", "%(n)s requests", "Waiting on requester", "Requester",
                  "Portal form", "Judgment"):
        assert msgid in found


def test_every_msgid_has_a_japanese_translation(extractor: ModuleType) -> None:
    """GIVEN the msgids in templates, Python and enum labels
    WHEN the ja catalogue is checked
    THEN none is missing, empty or fuzzy, and placeholders match."""
    assert extractor.check() == []


def test_placeholders_in_msgstr_match_msgid(extractor: ModuleType) -> None:
    for language in extractor.LANGUAGES:
        catalog = extractor.load(language)
        assert catalog is not None, f"{language} catalogue missing"
        for message in catalog:
            if message.id and message.string:
                assert (extractor.placeholders(message.string)
                        == extractor.placeholders(message.id)), (language, message.id)


def test_login_page_is_japanese(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert "ログイン" in page.text


def test_enum_label_follows_the_language(language: None) -> None:
    i18n.set_language("ja")
    assert Status.WAITING.label == "回答待ち"
    i18n.set_language("en")
    assert Status.WAITING.label == "Waiting on requester"
