"""Bounds on the work one knowledge document may cause, whatever its bytes say.

A file's size says little about the work it causes: a 250 KB docx can inflate to 150 MB of
XML, a 15 KB PDF page can hold 5 MB of drawing commands, and HTML parsing grows with the
markup. Each format is therefore bounded before or while it is read, and every bound that
trips is a :class:`UshiroError` saying which limit was reached and what to do:

* **ZIP (docx)**: at most ``zip_members`` members, the declared sizes must add up to at
  most ``inflated_bytes``, and every member is then inflated in chunks with its real bytes
  counted, stopping at the limit; a member whose real size differs from the size its
  header declares is refused (the library that parses it afterwards trusts that size).
  Only the methods Word writes (stored, deflate) are accepted: others decompress without
  an output bound.
* **PDF**: at most ``pages`` pages, counted before any page is read, and pypdf's own bounds
  tightened (decoded bytes per stream, parsing work per content stream, form invocations
  per page), so one page cannot take minutes.
* **HTML**: at most ``html_bytes`` before the parser sees it.
* **Every format**: at most ``chars`` characters of text, counted as the text is extracted
  (page by page for PDF), and at most ``seconds`` of extraction, checked between pages.
"""

from __future__ import annotations

import copy
import io
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from ushiro.core.errors import ErrorCode, UshiroError

if TYPE_CHECKING:
    from ushiro.core.settings import Settings

MIB = 1024 * 1024
CHUNK = 64 * 1024
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# pypdf's defaults (75 MB per stream, 2,000,000 parsing steps per content stream) let one
# page run for half a minute; a page of rules text needs a few thousand steps.
PDF_BOUNDS: dict[str, Any] = {
    "zlib_maximum_output_length": 16 * MIB,
    "lzw_maximum_output_length": 16 * MIB,
    "run_length_maximum_output_length": 16 * MIB,
    "brotli_maximum_output_length": 16 * MIB,
    "array_based_stream_maximum_output_length": 16 * MIB,
    "stream_parsing_work_maximum_count": 100_000,
    "xform_maximum_invocations_per_extraction": 50,
}


@dataclass(frozen=True)
class DocumentLimits:
    """The bounds of one extraction; the defaults are those of :class:`Settings`."""

    inflated_bytes: int = 40 * MIB
    zip_members: int = 2_000
    pages: int = 1_000
    chars: int = 3_000_000
    html_bytes: int = 4 * MIB
    seconds: float = 120.0

    @classmethod
    def of(cls, settings: Settings) -> DocumentLimits:
        return cls(inflated_bytes=settings.max_document_inflated_bytes,
                   zip_members=settings.max_document_zip_members,
                   pages=settings.max_document_pages, chars=settings.max_document_chars,
                   html_bytes=settings.max_document_html_bytes,
                   seconds=settings.max_document_seconds)


def too_large(filename: str, what: str, todo: str = "文書を分割してから登録してください。"
              ) -> UshiroError:
    return UshiroError(ErrorCode.DOCUMENT_TOO_LARGE,
                       f"「{PurePath(filename).name}」は{what}。{todo}", field="file")


def _mb(size: int) -> str:
    return f"{size / MIB:.0f} MB" if size >= MIB else f"{size:,} バイト"


class Budget:
    """The characters and the time one extraction may still use."""

    def __init__(self, filename: str, limits: DocumentLimits) -> None:
        self.filename, self.limits = filename, limits
        self.chars = 0
        self._deadline = time.monotonic() + limits.seconds

    def add(self, text: str) -> str:
        """Count ``text`` (one page or the whole document) and hand it back."""
        self.chars += len(text)
        if self.chars > self.limits.chars:
            raise too_large(self.filename,
                            f"本文が長すぎます (上限 {self.limits.chars:,} 文字を超えました)")
        return text

    def tick(self) -> None:
        """Between pages: stop a document that has taken too long already."""
        if time.monotonic() > self._deadline:
            raise too_large(self.filename,
                            f"読み取りに時間がかかりすぎます (上限 {self.limits.seconds:g} 秒)")


def check_html(filename: str, size: int, limits: DocumentLimits) -> None:
    if size > limits.html_bytes:
        raise too_large(filename, f"HTML として大きすぎます ({size / MIB:.1f} MB、"
                        f"上限 {_mb(limits.html_bytes)})",
                        "不要な部分を削るか分割するか、本文を txt や docx で登録してください。")


def check_pages(filename: str, count: int, limits: DocumentLimits) -> None:
    if count > limits.pages:
        raise too_large(filename, f"ページが多すぎます ({count:,} ページ、上限 "
                        f"{limits.pages:,} ページ)", "PDF を分割してから登録してください。")


def pdf_too_complex(filename: str) -> UshiroError:
    return too_large(filename, "PDF の中身 (ページの描画命令や圧縮されたデータ) が大きすぎ、"
                     "読み取りを打ち切りました",
                     "本文だけを PDF に書き出し直すか、docx や txt で登録してください。")


def _lying(filename: str, member: str) -> UshiroError:
    return UshiroError(ErrorCode.DOCUMENT_UNREADABLE,
                       f"「{PurePath(filename).name}」の部品 {member} の実際のサイズが、"
                       "ファイルに書かれたサイズと一致しません (壊れているか、改ざんされています)。"
                       "元のアプリケーションで保存し直してから登録してください。", field="file")


def check_zip(filename: str, source: io.BufferedIOBase | io.BytesIO,
              limits: DocumentLimits) -> int:
    """Inflate every member of the ZIP ``source`` in chunks, counting the real bytes, and
    refuse it as soon as a limit is passed. Returns the bytes inflated. Raises
    ``zipfile.BadZipFile`` for a damaged archive (the caller words that error)."""
    with zipfile.ZipFile(source) as archive:
        members = archive.infolist()
        if len(members) > limits.zip_members:
            raise too_large(filename, f"部品 (ZIP のメンバー) が多すぎます ({len(members):,} 個、"
                            f"上限 {limits.zip_members:,} 個)")
        declared = sum(info.file_size for info in members)
        if declared > limits.inflated_bytes:
            raise _inflates_too_much(filename, limits)
        inflated = 0
        for info in members:
            if info.compress_type not in _ZIP_METHODS:
                raise zipfile.BadZipFile(f"unsupported compression {info.compress_type}")
            inflated = _inflate(filename, archive, info, inflated, limits)
    return inflated


def _inflate(filename: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, inflated: int,
             limits: DocumentLimits) -> int:
    # zipfile stops every member at its declared size, so a member that is longer than
    # it says would look honest: read it as if it declared one byte more.
    probe = copy.copy(info)
    probe.file_size = info.file_size + 1
    real = 0
    try:
        with archive.open(probe) as member:
            while chunk := member.read(CHUNK):
                real += len(chunk)
                if real > info.file_size:
                    raise _lying(filename, info.filename)
                if inflated + real > limits.inflated_bytes:
                    raise _inflates_too_much(filename, limits)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # damaged data, a bad CRC
        raise _lying(filename, info.filename) from exc
    if real != info.file_size:
        raise _lying(filename, info.filename)
    return inflated + real


def _inflates_too_much(filename: str, limits: DocumentLimits) -> UshiroError:
    return too_large(filename, f"展開すると大きすぎます (展開後の上限 {_mb(limits.inflated_bytes)})",
                     "画像を減らすか文書を分割してから登録してください。")
