"""Extract UI msgids and update the ja/en gettext catalogues.

Sources of msgids (all English):

* ``_("…")`` / ``gettext_("…")`` in ``src/ushiro/**/*.py`` (Babel's Python extractor);
* ``{{ _("…") }}`` and ``_("…", name=…)`` in ``src/ushiro/**/templates/**/*.html``
  (Jinja2's ``babel_extract``, newstyle gettext like ``web/templating.py``);
* the labels of ``@with_labels({...})`` in ``src/ushiro/*/choices.py``: they reach ``_()``
  only at run time (``Choice.label``), so no call-site extractor can see them.

Usage::

    python scripts/i18n_extract.py          # update both catalogues, list untranslated ja
    python scripts/i18n_extract.py --check  # change nothing; exit 1 if ja is incomplete

Existing translations are kept. A msgid that is no longer extracted stays in the file as
an obsolete (``#~``) entry so its translation comes back if the string returns.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_file, extract_python
from babel.messages.pofile import read_po, write_po
from jinja2.ext import babel_extract

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "ushiro"
LOCALE_DIR = PACKAGE / "locale"
DOMAIN = "ushiro"
LANGUAGES = ("ja", "en")
# Only ja must be complete: en msgstr may stay empty (gettext falls back to the msgid).
REQUIRED = "ja"

KEYWORDS = {"_": None, "gettext_": None, "gettext": None, "N_": None}
JINJA_OPTIONS = {"newstyle_gettext": "true", "trim_blocks": "true", "lstrip_blocks": "true",
                 "silent": "false"}
HEADER = ("# Ushiro UI messages, {language}. msgids are English.\n"
          "# Maintained with scripts/i18n_extract.py: run it after adding _(\"...\") strings.")
# Babel's stubs type extraction methods narrower than the callables really are.
_PYTHON = cast(Any, extract_python)
_JINJA = cast(Any, babel_extract)
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdifr]|%[sdifr]")


@dataclass
class Extracted:
    """One msgid with every file it occurs in (no line numbers: they churn on every edit)."""

    msgid: str
    files: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _python_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _template_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.html") if "templates" in p.relative_to(PACKAGE).parts)


def _choice_files() -> list[Path]:
    return sorted(PACKAGE.glob("*/choices.py"))


def _choice_labels(path: Path) -> Iterator[tuple[str, str]]:
    """(label, "Class.value") for each ``@with_labels({...})`` dict literal in the module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for deco in node.decorator_list:
            if not (isinstance(deco, ast.Call) and getattr(deco.func, "id", None) == "with_labels"
                    and deco.args and isinstance(deco.args[0], ast.Dict)):
                continue
            for key, value in zip(deco.args[0].keys, deco.args[0].values, strict=True):
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    name = str(key.value) if isinstance(key, ast.Constant) else "?"
                    yield value.value, f"{node.name}.{name}"


def _msgid(message: str | tuple[str | None, ...]) -> str | None:
    return message[0] if isinstance(message, tuple) else message


def extract() -> dict[str, Extracted]:
    """Every msgid in the source tree, in a stable order (by file, then position)."""
    found: dict[str, Extracted] = {}

    def add(msgid: str | None, path: Path, comment: str | None = None) -> None:
        if not msgid:
            return
        entry = found.setdefault(msgid, Extracted(msgid))
        if _rel(path) not in entry.files:
            entry.files.append(_rel(path))
        if comment and comment not in entry.comments:
            entry.comments.append(comment)

    for path in _python_files():
        for _line, message, _comments, _ctx in extract_from_file(_PYTHON, path,
                                                                 keywords=KEYWORDS):
            add(_msgid(message), path)
    for path in _template_files():
        try:
            results = extract_from_file(_JINJA, path, keywords=KEYWORDS,
                                        options=JINJA_OPTIONS)
        except Exception as exc:  # a broken template must not silently lose its msgids
            raise SystemExit(f"{_rel(path)}: cannot extract: {exc}") from exc
        for _line, message, _comments, _ctx in results:
            add(_msgid(message), path)
    for path in _choice_files():
        for label, where in _choice_labels(path):
            add(label, path, f"enum label {where}")
    return found


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def load(language: str) -> Catalog | None:
    path = po_path(language)
    if not path.exists():
        return None
    with path.open("rb") as handle:
        return read_po(handle, locale=language, domain=DOMAIN)


def placeholders(text: str) -> list[str]:
    return sorted(m.group(0) for m in PLACEHOLDER.finditer(text))


def _previous(old: Catalog | None, msgid: str) -> Message | None:
    if old is None:
        return None
    return old.get(msgid) or old.obsolete.get(msgid)


def merge(language: str, found: dict[str, Extracted], old: Catalog | None) -> Catalog:
    """A fresh catalogue of the extracted msgids, carrying over translations from ``old``."""
    new = Catalog(locale=language, domain=DOMAIN, project="Ushiro", version="0.1.0",
                  header_comment=HEADER.format(language=language),
                  last_translator="Ushiro contributors", language_team=language,
                  copyright_holder="Ushiro contributors", fuzzy=False,
                  creation_date=old.creation_date if old else datetime.now(UTC))
    for entry in found.values():
        prev = _previous(old, entry.msgid)
        message = new.add(entry.msgid, prev.string if prev else "",
                          locations=[(f, cast(int, None)) for f in entry.files],
                          auto_comments=entry.comments,
                          user_comments=prev.user_comments if prev else ())
        if prev is not None and prev.fuzzy:
            message.flags.add("fuzzy")
    if old is not None:
        for msgid, prev in [*old._messages.items(), *old.obsolete.items()]:  # noqa: SLF001
            if msgid and msgid not in found and prev.string:
                new.obsolete[msgid] = prev
    return new


def render(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, include_lineno=False, ignore_obsolete=False)
    return buffer.getvalue()


def _without_revision_date(data: bytes) -> bytes:
    return re.sub(rb'"PO-Revision-Date: [^"]*"\n', b"", data)


def update(language: str, found: dict[str, Extracted]) -> bool:
    """Writes the catalogue if its messages changed; True when it did."""
    old = load(language)
    catalog = merge(language, found, old)
    path = po_path(language)
    before = path.read_bytes() if path.exists() else b""
    if old is not None:
        catalog.revision_date = old.revision_date
    if _without_revision_date(render(catalog)) == _without_revision_date(before):
        return False
    catalog.revision_date = datetime.now(UTC)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render(catalog))
    return True


def problems(found: dict[str, Extracted] | None = None,
             language: str = REQUIRED) -> tuple[list[str], list[str]]:
    """(msgids without a usable translation, msgids whose placeholders differ) in ``language``.

    Reads the catalogue as it is on disk; fuzzy entries count as untranslated because
    ``core.i18n`` ignores them at run time.
    """
    found = extract() if found is None else found
    catalog = load(language)
    missing: list[str] = []
    mismatched: list[str] = []
    for msgid in found:
        message = catalog.get(msgid) if catalog is not None else None
        if message is None or not message.string or message.fuzzy:
            missing.append(msgid)
        elif placeholders(str(message.string)) != placeholders(msgid):
            mismatched.append(msgid)
    return missing, mismatched


def check(found: dict[str, Extracted] | None = None) -> list[str]:
    """Everything wrong with the ja catalogue, one line each; empty when complete."""
    missing, mismatched = problems(found)
    return ([f"untranslated: {m!r}" for m in missing]
            + [f"placeholders differ: {m!r}" for m in mismatched])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a ja msgid lacks a translation")
    args = parser.parse_args(argv)
    found = extract()
    if not args.check:
        for language in LANGUAGES:
            changed = update(language, found)
            state = "updated" if changed else "unchanged"
            print(f"{_rel(po_path(language))}: {state} ({len(found)} msgids)")
    report = check(found)
    for line in report:
        print(f"{REQUIRED}: {line}", file=sys.stderr)
    if report:
        print(f"{len(report)} problem(s) in the {REQUIRED} catalogue", file=sys.stderr)
    return 1 if report and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
