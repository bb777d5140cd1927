"""Bounded work for every knowledge document: zip bombs, hostile PDFs, huge HTML and text.

Each hostile file is built here. The assertions are on the error and on what the limit
spared (memory allocated while the file was refused, measured with tracemalloc), never on
wall time, so they do not depend on the machine's load.
"""

from __future__ import annotations

import io
import struct
import sys
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import pytest

from ushiro import knowledge
from ushiro.core.db import Database
from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.runtime import Runtime
from ushiro.identity import Tenant, command_line
from ushiro.knowledge.ingest.extract import extract
from ushiro.knowledge.retrieval.tokenize import Analyzer
from ushiro.knowledge.schemas import DocumentIn

DEFAULT_MAX_BYTES = 20 * 1024 * 1024  # Settings.max_document_bytes
MIB = 1024 * 1024
PARAGRAPH = "<w:p><w:r><w:t>" + "あ" * 1000 + "</w:t></w:r></w:p>"


@contextmanager
def peak_allocation() -> Iterator[list[int]]:
    """The most memory Python allocated inside the block (bytes), in ``result[0]``."""
    result = [0]
    tracemalloc.start()
    try:
        yield result
    finally:
        result[0] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def refused(filename: str, data: bytes, **kwargs: Any) -> UshiroError:
    with pytest.raises(UshiroError) as caught:
        extract(filename, data, max_bytes=kwargs.pop("max_bytes", DEFAULT_MAX_BYTES), **kwargs)
    return caught.value


def docx_bomb(docx_of: Callable[..., bytes], xml_bytes: int) -> bytes:
    """A real docx whose document.xml is padded with ``xml_bytes`` of repeated paragraphs,
    written in chunks so that the test never holds the inflated XML itself."""
    source = zipfile.ZipFile(io.BytesIO(docx_of([("p", "第1条　目的")])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for info in source.infolist():
            data = source.read(info)
            if info.filename != "word/document.xml":
                archive.writestr(info.filename, data)
                continue
            head, tail = data.split(b"<w:body>")
            with archive.open(info.filename, "w") as member:
                member.write(head + b"<w:body>")
                chunk = PARAGRAPH.encode() * 256
                for _ in range(xml_bytes // len(chunk)):
                    member.write(chunk)
                member.write(tail)
    return out.getvalue()


def lie_about_size(data: bytes, member: str, declared: int) -> bytes:
    """Rewrite the uncompressed size (and the CRC, to that of the first ``declared``
    bytes) that the local header and the central directory give for ``member``."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    info = archive.getinfo(member)
    with archive.open(info) as handle:
        crc = zlib.crc32(handle.read(declared))
    patched = bytearray(data)
    name = member.encode()
    local = info.header_offset
    assert patched[local:local + 4] == b"PK\x03\x04"
    struct.pack_into("<I", patched, local + 14, crc)
    struct.pack_into("<I", patched, local + 22, declared)
    central = patched.index(b"PK\x01\x02")
    while True:  # the central directory entry of ``member``
        length = struct.unpack_from("<H", patched, central + 28)[0]
        if bytes(patched[central + 46:central + 46 + length]) == name:
            break
        central = patched.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", patched, central + 16, crc)
    struct.pack_into("<I", patched, central + 24, declared)
    return bytes(patched)


# --- ZIP (docx) -------------------------------------------------------------------------


def test_docx_bomb_is_refused_before_it_is_inflated(docx_of: Callable[..., bytes]) -> None:
    """GIVEN a 250 KB docx whose document.xml inflates to 150 MB (its header says so)
    WHEN it is added with the default limits
    THEN it is refused as too large, naming the limit, with almost nothing allocated."""
    bomb = docx_bomb(docx_of, 150 * MIB)
    assert len(bomb) < 1 * MIB
    with peak_allocation() as peak:
        error = refused("規程.docx", bomb)
    assert error.code is ErrorCode.DOCUMENT_TOO_LARGE and error.status == 413
    assert "展開すると大きすぎます" in error.message and "40 MB" in error.message
    assert peak[0] < 4 * MIB, f"{peak[0]:,} bytes allocated to refuse a zip bomb"


def test_docx_whose_header_understates_its_size_is_refused(
        docx_of: Callable[..., bytes]) -> None:
    """GIVEN a docx whose document.xml inflates to 50 MB but whose headers declare 4 KB
    (with the CRC of those first 4 KB)
    WHEN it is added
    THEN it is refused as unreadable, naming the part, after inflating at most what was
    declared."""
    honest = docx_bomb(docx_of, 50 * MIB)
    lying = lie_about_size(honest, "word/document.xml", 4096)
    with peak_allocation() as peak:
        error = refused("規程.docx", lying)
    assert error.code is ErrorCode.DOCUMENT_UNREADABLE
    assert "word/document.xml" in error.message and "一致しません" in error.message
    assert peak[0] < 4 * MIB


def test_docx_with_too_many_members_is_refused(docx_of: Callable[..., bytes]) -> None:
    """GIVEN a valid docx with 2,500 extra empty members (the limit is 2,000)
    WHEN it is added
    THEN it is refused as too large, with the count and the limit."""
    out = io.BytesIO(docx_of([("p", "第1条　目的")]))
    with zipfile.ZipFile(out, "a") as archive:
        for i in range(2500):
            archive.writestr(f"customXml/extra{i}.xml", b"")
    error = refused("規程.docx", out.getvalue())
    assert error.code is ErrorCode.DOCUMENT_TOO_LARGE
    assert "部品 (ZIP のメンバー) が多すぎます" in error.message and "2,000 個" in error.message


# --- PDF --------------------------------------------------------------------------------


def content_stream_pdf(content: bytes) -> bytes:
    """A one-page PDF whose page content is ``content``, flate-compressed."""
    raw = zlib.compress(content, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(raw) + raw + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, xref))
    return out.getvalue()


def test_pdf_with_too_many_pages_is_refused(pdf_of: Callable[..., bytes]) -> None:
    """GIVEN a PDF of 1,001 pages (the limit is 1,000)
    WHEN it is added
    THEN it is refused as too large, with the page count and the limit."""
    error = refused("規程.pdf", pdf_of([[f"第{i}条　本文"] for i in range(1, 1002)]))
    assert error.code is ErrorCode.DOCUMENT_TOO_LARGE
    assert "ページが多すぎます (1,001 ページ、上限 1,000 ページ)" in error.message


def test_pdf_page_with_a_huge_content_stream_is_refused() -> None:
    """GIVEN a 15 KB PDF whose one page holds 5 MB of text drawing commands (minutes of
    pypdf work before)
    WHEN it is added
    THEN it is refused as too large, saying the page content is too big."""
    pdf = content_stream_pdf(b"BT /F1 12 Tf 72 720 Td (Hello world text) Tj ET\n" * 100_000)
    assert len(pdf) < 32 * 1024
    error = refused("規程.pdf", pdf)
    assert error.code is ErrorCode.DOCUMENT_TOO_LARGE
    assert "PDF の中身" in error.message and "打ち切りました" in error.message


def test_pdf_stream_inflating_past_its_bound_is_refused_as_too_large() -> None:
    """GIVEN a PDF whose page content inflates to 64 MB of spaces
    WHEN it is added
    THEN it is refused as too large (not "damaged"), having inflated at most the bound."""
    pdf = content_stream_pdf(b" " * (64 * MIB))
    with peak_allocation() as peak:
        error = refused("規程.pdf", pdf)
    assert error.code is ErrorCode.DOCUMENT_TOO_LARGE and "PDF の中身" in error.message
    assert peak[0] < 40 * MIB


def test_pdf_text_is_counted_page_by_page(pdf_of: Callable[..., bytes]) -> None:
    """GIVEN a limit of 100 characters and a PDF of 30 pages of 40 characters
    WHEN it is added
    THEN it is refused as too long, with the limit."""
    from ushiro.knowledge.ingest.limits import DocumentLimits

    pages = [["第1条　" + "あ" * 36] for _ in range(30)]
    error = refused("規程.pdf", pdf_of(pages), limits=DocumentLimits(chars=100))
    assert error.code is ErrorCode.DOCUMENT_TOO_LARGE
    assert "本文が長すぎます (上限 100 文字を超えました)" in error.message


def test_pdf_extraction_stops_at_its_deadline(pdf_of: Callable[..., bytes]) -> None:
    """GIVEN a time limit that has passed by the time the first page is read
    WHEN a PDF is added
    THEN it is refused as taking too long, with the limit."""
    from ushiro.knowledge.ingest.limits import DocumentLimits

    error = refused("規程.pdf", pdf_of([["第1条　目的"]] * 3),
                    limits=DocumentLimits(seconds=1e-9))
    assert error.code is ErrorCode.DOCUMENT_TOO_LARGE
    assert "時間がかかりすぎます" in error.message


# --- HTML and text ----------------------------------------------------------------------


def test_html_over_its_limit_is_refused_before_parsing() -> None:
    """GIVEN 4.5 MB of HTML (the limit for HTML is 4 MB; 20 MB for files)
    WHEN it is added
    THEN it is refused as too large, with the HTML limit, and never parsed."""
    unit = "<div><p>第1条　この規程は旅費について定める。</p><table><tr><td>区分</td></tr></table></div>\n"
    html = (unit * (int(4.5 * MIB) // len(unit.encode()))).encode()
    with peak_allocation() as peak:
        error = refused("規程.html", html)
    assert error.code is ErrorCode.DOCUMENT_TOO_LARGE
    assert "HTML として大きすぎます" in error.message and "上限 4 MB" in error.message
    assert peak[0] < 1 * MIB


def test_flat_html_keeps_headings_blocks_and_cells() -> None:
    """The one-pass conversion gives what the tree rewriting gave (compared on 3,000
    random trees when it was written): headings as
    Markdown, a line per block, " | " between cells, <br> as a line break, no scripts,
    comments or navigation, not even inside a heading."""
    html = ("<html><head><title>x</title></head><body><nav>メニュー</nav>"
            "<h2>第1章 <script>bad()</script>総則<br>(抜粋)</h2><!-- 注記 -->"
            "<div>前文<p>第1条　目的<br>第2項</p></div>"
            "<table><tr><th>区分</th><th>日当</th></tr><tr><td>役員</td><td>5,000円</td></tr>"
            "</table><ul><li>一</li><li>二</li></ul><p>終わり</p></body></html>")
    text = extract("a.html", html.encode(), max_bytes=DEFAULT_MAX_BYTES).pages[0]
    assert text == ("## 第1章 総則 (抜粋)\n\n前文\n第1条　目的\n第2項\n\n区分 | 日当\n\n"
                    "役員 | 5,000円\n\n一\n\n二\n\n終わり")


def test_text_over_the_character_limit_is_refused() -> None:
    """GIVEN a 9 MB text file of 3,000,004 characters (the limit is 3,000,000)
    WHEN it is added
    THEN it is refused as too long, with the limit."""
    error = refused("規程.txt", ("第1条　" + "あ" * 3_000_000).encode())
    assert error.code is ErrorCode.DOCUMENT_TOO_LARGE
    assert "上限 3,000,000 文字" in error.message


# --- ingest and the writer lock ---------------------------------------------------------


@contextmanager
def watching(on_transaction: Callable[[], None] | None = None) -> Iterator[list[str]]:
    """Record, in this thread, every analysis of passage text and whether it ran inside a
    write transaction (``Database.transaction``); ``on_transaction`` runs once, just
    before the first write transaction begins."""
    transaction_code = Database.transaction.__wrapped__.__code__  # type: ignore[attr-defined]
    tokens_code = Analyzer.index_tokens.__code__
    events: list[str] = []
    # A generator frame is "called" at each resumption and "returns" at each yield, so a
    # transaction's body runs between its first return and its second call.
    state: dict[int, int] = {}  # id(frame) → 0 started, 1 in its body, 2 finishing
    hook = [on_transaction]

    def profile(frame: FrameType, event: str, _arg: object) -> None:
        if frame.f_code is transaction_code:
            key = id(frame)
            if event == "call" and key not in state:
                state[key] = 0
                if hook[0] is not None:
                    hook.pop()()
                    hook.append(None)
            elif event == "return" and state.get(key) == 0:
                state[key] = 1
            elif event == "call":
                state[key] = 2
            elif event == "return":
                state.pop(key, None)
        elif frame.f_code is tokens_code and event == "call":
            inside = any(value == 1 for value in state.values())
            events.append("in transaction" if inside else "outside")

    sys.setprofile(profile)
    try:
        yield events
    finally:
        sys.setprofile(None)


def test_passages_are_analysed_before_the_write_transaction(rt: Runtime, tenant: Tenant,
                                                            texts: dict[str, str]) -> None:
    """GIVEN the 就業規則 (21 articles)
    WHEN it is added
    THEN every passage is analysed (Sudachi) before the write transaction begins, so the
    SQLite writer lock is held only for the writes."""
    doc = DocumentIn("就業規則.txt", texts["rules"].encode())
    with watching() as analysed:
        result = knowledge.add_document(rt, command_line(tenant.id), doc)
    assert result.passages > 20
    assert analysed and set(analysed) == {"outside"}, analysed


def test_synonyms_edited_meanwhile_are_applied(rt: Runtime, tenant: Tenant) -> None:
    """GIVEN a rule that says おうちワーク, analysed before its transaction
    WHEN 在宅勤務 ← おうちワーク is added as a synonym between the analysis and the write
    THEN the stored passage is analysed with the new synonym: 在宅勤務 finds it."""
    knowledge.synonyms(rt, command_line(tenant.id))  # seed the shipped list first

    def edit() -> None:
        assert knowledge.edit_synonyms(rt, command_line(tenant.id), "在宅勤務",
                                       ["おうちワーク"]) == 1

    doc = DocumentIn("勤務規程.txt", "第1条　おうちワークは週2日までとする。".encode())
    with watching(on_transaction=edit) as analysed:
        knowledge.add_document(rt, command_line(tenant.id), doc)
    assert "in transaction" in analysed  # analysed again with the synonyms now stored
    hits = knowledge.search(rt, command_line(tenant.id), "在宅勤務")
    assert [hit.document for hit in hits] == ["勤務規程"]
