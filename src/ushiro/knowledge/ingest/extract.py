"""Text out of the files a back office keeps its rules in: md, txt, html, pdf, docx.

Every failure is an :class:`UshiroError` with a Japanese message that says what to do, so
one bad file is reported and nothing of it is stored. Headings of HTML and Word files are
written as Markdown headings (``## 見出し``) so that one splitter handles every format.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.text import clean
from ushiro.knowledge.choices import SUFFIXES, DocumentFormat
from ushiro.knowledge.ingest.limits import (
    PDF_BOUNDS,
    Budget,
    DocumentLimits,
    check_html,
    check_pages,
    check_zip,
    pdf_too_complex,
)

# Byte-order marks, longest first (a UTF-32 LE mark starts with the UTF-16 LE one).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Declared charsets are only trusted as far as this: Shift_JIS is always read as CP932,
# which is what Windows writes (①, ㈱ and 髙 are not in Shift_JIS proper).
_CHARSET_ALIASES = {
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
    "windows-31j": "cp932", "ms932": "cp932", "cp932": "cp932",
    "euc-jp": "euc_jp", "iso-2022-jp": "iso2022_jp", "utf-8": "utf-8",
}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_-]+)""", re.I)
_DROP_TAGS = ("script", "style", "noscript", "template", "head", "svg", "nav")
_BLOCK_TAGS = ("p", "div", "li", "dt", "dd", "tr", "table", "ul", "ol", "dl", "pre",
               "blockquote", "section", "article", "header", "footer", "main", "aside",
               "figure", "figcaption", "caption", "form", "address")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_HEADING_STYLE = re.compile(r"^(?:heading|見出し)\s*([1-9])$", re.I)
_PDF_LOGGER = logging.getLogger("pypdf")
_DEFAULT_LIMITS = DocumentLimits()


@dataclass(frozen=True)
class Extracted:
    """The text of one file. ``pages`` has one entry per PDF page, one entry otherwise.

    ``from_layout`` says the lines were broken by page layout, not by the author (PDF), so
    the splitter should join lines broken in the middle of a sentence.
    """

    format: DocumentFormat
    pages: list[str]
    from_layout: bool = False
    first_page: int = 1  # the number of pages[0] (a rule set cut from a longer file)


def detect_format(filename: str) -> DocumentFormat:
    suffix = PurePath(filename).suffix.lower()
    found = SUFFIXES.get(suffix)
    if found is None:
        hint = " Word の .doc は .docx で保存し直してください。" if suffix == ".doc" else ""
        raise UshiroError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"「{PurePath(filename).name}」は取り込めない形式です。"
            f"md, txt, html, pdf, docx のいずれかにしてください。{hint}", field="file")
    return found


def extract(filename: str, data: bytes, *, max_bytes: int,
            limits: DocumentLimits = _DEFAULT_LIMITS) -> Extracted:
    """The text of ``data`` (named ``filename``), or an UshiroError saying what is wrong;
    the work it takes is bounded by ``limits`` (see :mod:`ushiro.knowledge.ingest.limits`)."""
    fmt = detect_format(filename)
    check_size(filename, len(data), max_bytes)
    budget = Budget(filename, limits)
    if fmt is DocumentFormat.PDF:
        return Extracted(fmt, _pdf(filename, data, limits, budget), from_layout=True)
    if fmt is DocumentFormat.DOCX:
        return Extracted(fmt, [_docx(filename, data, limits, budget)])
    if fmt is DocumentFormat.HTML:
        check_html(filename, len(data), limits)
        return Extracted(fmt, [budget.add(_html(data))])
    return Extracted(fmt, [budget.add(clean(decode_text(data)))])


def check_size(filename: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise UshiroError(
            ErrorCode.DOCUMENT_TOO_LARGE,
            f"「{PurePath(filename).name}」は大きすぎます ({size / 1_048_576:.1f} MB)。"
            f"{max_bytes / 1_048_576:.0f} MB 以下に分割してから登録してください。", field="file")


def decode_text(data: bytes) -> str:
    """BOM → strict UTF-8 → CP932; anything else is refused rather than guessed."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return _checked(data.decode(codec))
            except UnicodeDecodeError:
                break
    for codec in ("utf-8", "cp932"):
        try:
            return _checked(data.decode(codec))
        except UnicodeDecodeError:
            continue
    raise _undecodable()


def _undecodable() -> UshiroError:
    return UshiroError(ErrorCode.DOCUMENT_UNREADABLE,
                       "文字コードを判別できません。UTF-8 (または Shift_JIS/CP932) の"
                       "テキストとして保存し直してから登録してください。", field="file")


def _checked(text: str) -> str:
    """Bytes that happen to decode as CP932 can still be binary: refuse those."""
    if "\x00" in text:
        raise _undecodable()
    odd = sum(1 for ch in text if unicodedata.category(ch) in ("Cc", "Co", "Cn")
              and ch not in "\t\n\r\f")
    if odd > max(2, len(text) // 100):
        raise _undecodable()
    return text


def _decode_html(data: bytes) -> str:
    if not any(data.startswith(bom) for bom, _ in _BOMS):
        try:
            return _checked(data.decode("utf-8"))
        except UnicodeDecodeError:
            declared = _META_CHARSET.search(data[:4096])
            codec = _CHARSET_ALIASES.get(declared.group(1).decode().lower()) if declared else None
            if codec and codec != "utf-8":
                try:
                    return _checked(data.decode(codec))
                except UnicodeDecodeError:
                    pass
    return decode_text(data)


def _html(data: bytes) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode_html(data), "html.parser")
    lines = [re.sub(r"[ \t\r\f\v]+", " ", line).strip(" |")
             for line in "".join(_html_parts(soup)).splitlines()]
    return clean(re.sub(r"\n{3,}", "\n\n", "\n".join(lines)))


def _html_parts(root: Any) -> Iterator[str]:
    """The text of the tree in document order: headings as Markdown headings, blocks on
    lines of their own, table cells followed by " | ". One walk over the tree, without
    recursion: inserting these markers into the tree instead costs time quadratic in the
    number of siblings (47 s for 4 MB of flat HTML)."""
    from bs4.element import CData, NavigableString, Tag

    text_types = (NavigableString, CData)  # what get_text() reads: no comments, no scripts
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if type(node) is str:  # a marker pushed below, not a string of the page
            yield node
        elif not isinstance(node, Tag):
            if type(node) in text_types:
                yield str(node)
        elif node.name == "br":
            yield "\n"
        elif node.name in _HEADINGS:
            words = " ".join(_heading_strings(node)).split()
            yield f"\n\n{'#' * int(node.name[1])} {' '.join(words)}\n\n"
        elif node.name not in _DROP_TAGS:
            block = node.name in _BLOCK_TAGS
            if block:
                yield "\n"
            stack.append("\n" if block else " | " if node.name in ("td", "th") else "")
            stack.extend(reversed(node.contents))


def _heading_strings(heading: Any) -> Iterator[str]:
    from bs4.element import CData, NavigableString, Tag

    stack: list[Any] = [heading]
    while stack:
        node = stack.pop()
        if isinstance(node, Tag):
            if node.name == "br":
                yield "\n"
            elif node.name not in _DROP_TAGS:
                stack.extend(reversed(node.contents))
        elif type(node) in (NavigableString, CData):
            yield str(node)


def _unreadable(kind: str, exc: BaseException | None = None) -> UshiroError:
    detail = f" ({type(exc).__name__})" if exc is not None else ""
    return UshiroError(ErrorCode.DOCUMENT_UNREADABLE,
                       f"{kind} ファイルを読み取れません。壊れているか、パスワードで保護されています"
                       f"{detail}。元のアプリケーションで保存し直してから登録してください。",
                       field="file")


# PDFs made with CJK fonts (Chromium, Word, many converters) often map glyphs back to the
# Kangxi radicals (U+2F00-) rather than the ideographs they look like: 「⽇当」 for 日当.
# They show the same, but a quoted clause would carry them into replies and no search or
# fact check matches them. NFKC maps the Kangxi radicals; the supplement's (⻑ for 長) it
# leaves alone, so the ones that stand for a whole Japanese ideograph are listed here.
_RADICALS = re.compile("[\u2e80-\u2fdf]")
_SUPPLEMENT = dict(zip("⺟⺠⻆⻄⻑⻘⻝⻤⻨⻩⻫⻭⻯⻲", "母民角西長青食鬼麦黄斉歯竜亀", strict=True))


def radicals_to_ideographs(text: str) -> str:
    return _RADICALS.sub(lambda m: _SUPPLEMENT.get(m.group())
                         or unicodedata.normalize("NFKC", m.group()), text)


def _pdf(filename: str, data: bytes, limits: DocumentLimits, budget: Budget) -> list[str]:
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError

    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise _unreadable("PDF")
    level = _PDF_LOGGER.level
    _PDF_LOGGER.setLevel(logging.ERROR)  # pypdf warns about every harmless oddity
    try:
        with apply_configuration(**PDF_BOUNDS):
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise _unreadable("PDF")
            check_pages(filename, len(reader.pages), limits)
            pages = []
            for page in reader.pages:
                budget.tick()
                pages.append(budget.add(clean(radicals_to_ideographs(page.extract_text() or ""))))
    except UshiroError:
        raise
    except LimitReachedError as exc:
        raise pdf_too_complex(filename) from exc
    except Exception as exc:  # pypdf raises many types on damaged files
        raise _unreadable("PDF", exc) from exc
    finally:
        _PDF_LOGGER.setLevel(level)
    if sum(len("".join(page.split())) for page in pages) < 10:
        raise UshiroError(ErrorCode.DOCUMENT_NEEDS_OCR,
                          "この PDF には文字情報がありません (スキャンした画像の PDF と思われます)。"
                          "OCR が必要です: OCR でテキスト付きの PDF にするか、本文を docx や txt で"
                          "登録してください。", field="file")
    return pages


def _docx(filename: str, data: bytes, limits: DocumentLimits, budget: Budget) -> str:
    import docx

    try:
        # Inflated once here with the real bytes counted, so that python-docx, which
        # trusts the sizes the archive declares, only ever reads what was checked.
        check_zip(filename, io.BytesIO(data), limits)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
            ValueError) as exc:  # damaged, encrypted or an unknown compression method
        raise _unreadable("Word (docx)", exc) from exc
    styles: dict[str | None, str] = {}
    lines = []
    try:
        document = docx.Document(io.BytesIO(data))
        for block in document.iter_inner_content():
            line = _docx_block(block, styles)
            if line is not None:
                lines.append(budget.add(line))
    except UshiroError:
        raise
    except Exception as exc:  # python-docx/lxml raise many types on damaged files
        raise _unreadable("Word (docx)", exc) from exc
    return clean("\n".join(lines))


def _style_name(block: object, names: dict[str | None, str]) -> str:
    """The paragraph's style name, looked up once per style id: python-docx finds it by
    scanning every style of the document, for every paragraph (6,600 paragraphs took
    28 s)."""
    style_id: str | None = getattr(getattr(block, "_element", None), "style", None)
    if style_id not in names:
        try:
            style = block.style  # type: ignore[attr-defined]
            names[style_id] = (style.name or "") if style is not None else ""
        except (KeyError, ValueError):
            names[style_id] = ""
    return names[style_id]


def _docx_block(block: object, styles: dict[str | None, str]) -> str | None:
    from docx.table import Table

    if isinstance(block, Table):
        rows = []
        for row in block.rows:
            cells: list[str] = []
            for cell in row.cells:
                value = " ".join(cell.text.split())
                if value and (not cells or cells[-1] != value):  # merged cells repeat
                    cells.append(value)
            rows.append(" | ".join(cells))
        return "\n".join(rows) + "\n"
    text: str = getattr(block, "text", "").strip()
    style = _style_name(block, styles)
    match = _HEADING_STYLE.match(style)
    if text and match:
        return f"\n{'#' * int(match.group(1))} {text}\n"
    if text and style == "Title":
        return f"# {text}\n"
    return text
