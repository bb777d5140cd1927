"""Reading md, txt, html, pdf and docx, and the clear errors for files that cannot be read."""

from __future__ import annotations

import codecs

import pytest

from ushiro.core.errors import STATUS_BY_CODE, ErrorCode, UshiroError
from ushiro.knowledge.ingest.extract import decode_text, extract
from ushiro.knowledge.ingest.passages import split

LIMIT = 1_000_000
CP932_TEXT = "①髙橋㈱の規程\n第1条　ﾀｸｼｰ代は実費とする。"


@pytest.mark.parametrize(("data", "expected"), [
    pytest.param("規程".encode(), "規程", id="utf-8"),
    pytest.param(codecs.BOM_UTF8 + "規程".encode(), "規程", id="utf-8-bom"),
    pytest.param("規程".encode("utf-16"), "規程", id="utf-16-bom"),
    pytest.param(CP932_TEXT.encode("cp932"), CP932_TEXT, id="cp932-with-①㈱髙"),
])
def test_text_encodings(data: bytes, expected: str) -> None:
    assert decode_text(data) == expected


@pytest.mark.parametrize("data", [
    pytest.param(bytes(range(256)) * 4, id="binary"),
    pytest.param(b"\x00\x01\x02abc" * 50, id="nul-bytes"),
    pytest.param(b"\x82\xa0\x82" * 3 + b"\xff\xfe\xfd" * 40, id="broken-cp932"),
])
def test_undecodable_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(UshiroError) as caught:
        decode_text(data)
    assert caught.value.code is ErrorCode.DOCUMENT_UNREADABLE
    assert "文字コード" in caught.value.message


def test_html_with_declared_shift_jis_is_read_as_cp932() -> None:
    html = '<html><head><meta charset="Shift_JIS"></head><body><h1>①規程</h1><p>髙橋</p></body></html>'
    result = extract("a.htm", html.encode("cp932"), max_bytes=LIMIT)
    assert result.pages == ["# ①規程\n\n髙橋"]


def test_pdf_with_japanese_text_layer(pdf_of) -> None:
    data = pdf_of([["（年次有給休暇）", "第１２条　会社は、１０日の年次有給休暇を", "与える。"],
                   ["（賞与）", "第１３条　賞与は年２回支給する。"]])
    result = extract("就業規則.pdf", data, max_bytes=LIMIT)
    assert result.from_layout and len(result.pages) == 2
    passages = split(result, "就業規則")
    assert [(p.section, p.page) for p in passages] == [("第12条(年次有給休暇)", 1),
                                                       ("第13条(賞与)", 2)]
    assert "年次有給休暇を与える。" in passages[0].text


def test_docx_headings_paragraphs_and_tables(docx_of) -> None:
    data = docx_of([("h1", "旅費規程"), ("h2", "第1章 総則"), ("p", "（目的）"),
                    ("p", "第1条　この規程は旅費について定める。"), ("h2", "日当の額"),
                    ("table", "区分|日当\n役員|5,000円\n一般社員|2,000円")])
    passages = split(extract("旅費規程.docx", data, max_bytes=LIMIT), "旅費規程")
    assert [(p.section, p.context) for p in passages] == [
        ("第1条(目的)", "旅費規程 > 第1章 総則"), ("日当の額", "旅費規程")]
    assert "役員 | 5,000円" in passages[1].text


@pytest.mark.parametrize(("filename", "code", "words"), [
    ("broken.pdf", ErrorCode.DOCUMENT_UNREADABLE, "PDF ファイルを読み取れません"),
    ("broken.docx", ErrorCode.DOCUMENT_UNREADABLE, "Word (docx) ファイルを読み取れません"),
    ("規程.xlsx", ErrorCode.UNSUPPORTED_FORMAT, "取り込めない形式"),
    ("規程.doc", ErrorCode.UNSUPPORTED_FORMAT, ".docx で保存し直して"),
])
def test_unreadable_files(filename: str, code: ErrorCode, words: str) -> None:
    with pytest.raises(UshiroError) as caught:
        extract(filename, b"%PDF-1.7\n garbage that is not a PDF body \x00\x01", max_bytes=LIMIT)
    assert caught.value.code is code
    assert words in caught.value.message


def test_truncated_pdf_and_docx_are_unreadable(pdf_of, docx_of) -> None:
    pdf = pdf_of([["第1条　目的"]])
    docx = docx_of([("p", "第1条　目的")])
    for name, data in (("a.pdf", pdf[: len(pdf) // 3]), ("a.docx", docx[: len(docx) // 2])):
        with pytest.raises(UshiroError) as caught:
            extract(name, data, max_bytes=LIMIT)
        assert caught.value.code is ErrorCode.DOCUMENT_UNREADABLE, name


def test_scanned_pdf_needs_ocr(scanned_pdf) -> None:
    with pytest.raises(UshiroError) as caught:
        extract("scan.pdf", scanned_pdf, max_bytes=LIMIT)
    assert caught.value.code is ErrorCode.DOCUMENT_NEEDS_OCR
    assert "OCR が必要です" in caught.value.message
    assert caught.value.status == 422


def test_enormous_file_is_refused_before_reading() -> None:
    with pytest.raises(UshiroError) as caught:
        extract("規程.txt", b"a" * 2001, max_bytes=2000)
    assert caught.value.code is ErrorCode.DOCUMENT_TOO_LARGE
    assert caught.value.status == 413 and "分割" in caught.value.message


def test_new_error_codes_have_statuses() -> None:
    assert STATUS_BY_CODE[ErrorCode.UNSUPPORTED_FORMAT] == 415
    assert STATUS_BY_CODE[ErrorCode.DOCUMENT_NEEDS_OCR] == 422
