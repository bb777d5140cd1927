"""Structure-aware splitting: articles, Q&A items, headings, text from PDF, long sections."""

from __future__ import annotations

import pytest

from ushiro.knowledge.choices import DocumentFormat
from ushiro.knowledge.ingest.extract import Extracted, extract
from ushiro.knowledge.ingest.passages import MAX_CHARS, article_label, number, rejoin, split


def labels(text: str, fmt: DocumentFormat = DocumentFormat.TEXT, *,
           pdf: bool = False) -> list[str]:
    return [p.section for p in split(Extracted(fmt, [text], from_layout=pdf), "文書")]


@pytest.mark.parametrize(("line", "expected"), [
    ("第１２条（年次有給休暇）　会社は", ("第12条(年次有給休暇)", "会社は")),
    ("第十二条　会社は", ("第12条", "会社は")),
    ("第二十一条（賞与）", ("第21条(賞与)", "")),
    ("第百条 雑則", ("第100条(雑則)", "")),
    ("第3条の2 (航空機の利用)", ("第3条の2(航空機の利用)", "")),
    ("第三条の二　海外出張", ("第3条の2(海外出張)", "")),
    ("第40条　慶弔休暇", ("第40条(慶弔休暇)", "")),
    ("第5条　削除", ("第5条", "削除")),
    ("第13条　賞与は年2回", ("第13条", "賞与は年2回")),  # a sentence a page edge cut
    ("第10条　使用者は、次の", ("第10条", "使用者は、次の")),
    ("第１２条【年次有給休暇】", ("第12条(年次有給休暇)", "")),
    ("第12条", ("第12条", "")),
    ("第12条の規定にかかわらず、", None),
    ("第12条及び第13条の定めるところにより", None),
    ("この規則の第12条", None),
])
def test_article_lines(line: str, expected: tuple[str, str] | None) -> None:
    """GIVEN the first line of an article in any of the ways Japanese rules write it
    THEN it is recognised with a half-width label; a mere reference to an article is not."""
    assert article_label(line) == expected


@pytest.mark.parametrize(("kanji", "value"), [
    ("一", 1), ("十", 10), ("十二", 12), ("二十", 20), ("二十一", 21), ("百二", 102),
    ("一〇", 10), ("三百四十五", 345), ("12", 12),
])
def test_kanji_numbers(kanji: str, value: int) -> None:
    assert number(kanji) == value


SPLIT_CASES = [
    pytest.param("（目的）\n第１条　この規則は、労働条件を定める。\n\n（年次有給休暇）\n"
                 "第１２条　会社は、１０日の年次有給休暇を与える。\n２　半日単位で取得できる。",
                 ["第1条(目的)", "第12条(年次有給休暇)"], id="full-width-captions-above"),
    pytest.param("第十二条（年次有給休暇）会社は休暇を与える。\n第十三条（慶弔休暇）本人の結婚は5日。",
                 ["第12条(年次有給休暇)", "第13条(慶弔休暇)"], id="kanji-numerals"),
    pytest.param("第3条　交通費は実費とする。\n第3条の2（航空機）500km以上で利用できる。\n"
                 "第4条　日当は2,000円とする。",
                 ["第3条", "第3条の2(航空機)", "第4条"], id="branch-article"),
    pytest.param("第１条　定義\n第１条の規定にかかわらず、次による。\n第２条　適用",
                 ["第1条(定義)", "第2条(適用)"], id="reference-is-not-an-article"),
    pytest.param("問1　有給は何日？\n答　10日です。\nQ2. 結婚したら？\nA. 5日です。\n"
                 "Ｑ３：住所変更は？\nＡ：届け出てください。\nQ：パソコンが壊れたら？\nA：連絡を。",
                 ["問1 有給は何日?", "Q2 結婚したら?", "Q3 住所変更は?", "Q パソコンが壊れたら?"],
                 id="questions"),
    pytest.param("# 経費精算ガイド\n\n## 申請期限\n翌月5日までに申請する。\n\n### 例外\n出張中は帰着後。\n\n"
                 "## 領収書\n原本を提出する。",
                 ["申請期限", "例外", "領収書"], id="markdown-headings"),
    pytest.param("## 第12条（年次有給休暇）\n10日を与える。\n## Q1 有給の申請は？\n3日前までに。",
                 ["第12条(年次有給休暇)", "Q1 有給の申請は?"], id="markdown-article-and-question"),
]


@pytest.mark.parametrize(("text", "expected"), SPLIT_CASES)
def test_split_labels(text: str, expected: list[str]) -> None:
    """GIVEN a document in one of the shapes rules and FAQs take
    THEN it is cut into one passage per article, question or heading, labelled as cited."""
    assert labels(text, DocumentFormat.MARKDOWN) == expected


def test_chapters_are_context_and_text_keeps_original_wording() -> None:
    text = ("第１章　総則\n（目的）\n第１条　この規則は定める。\n第４章　休暇\n第１節　年次休暇\n"
            "（年次有給休暇）\n第十二条　会社は、１０日の年次有給休暇を与える。")
    passages = split(Extracted(DocumentFormat.TEXT, [text]), "就業規則")
    assert [(p.section, p.context) for p in passages] == [
        ("第1条(目的)", "第1章 総則"),
        ("第12条(年次有給休暇)", "第4章 休暇 > 第1節 年次休暇"),
    ]
    # Display keeps the document's own digits; only labels (and tokens) are normalised.
    assert passages[1].text == "（年次有給休暇）\n第十二条　会社は、１０日の年次有給休暇を与える。"
    assert passages[1].ordinal == 2


def test_html_headings_become_sections() -> None:
    html = ("<html><head><title>FAQ</title><style>p{}</style></head><body>"
            "<nav>メニュー</nav><h1>総務FAQ</h1><h2>備品の購入</h2><p>1万円未満は部門長の承認で購入できます。</p>"
            "<h2>名刺の発注</h2><p>申請フォームから<br>発注してください。</p>"
            "<table><tr><td>区分</td><td>期限</td></tr></table>"
            "<script>alert(1)</script></body></html>").encode()
    passages = split(extract("faq.html", html, max_bytes=10**6), "FAQ")
    assert [p.section for p in passages] == ["備品の購入", "名刺の発注"]
    assert passages[0].context == "総務FAQ"
    assert "申請フォームから\n発注してください。" in passages[1].text
    assert "区分 | 期限" in passages[1].text
    assert all("alert" not in p.text and "メニュー" not in p.text for p in passages)


def test_pdf_lines_broken_mid_sentence_are_joined() -> None:
    """GIVEN text extracted from a PDF, its lines broken by the page width
    WHEN it is split THEN sentences are whole again, page numbers are gone, items stay apart."""
    page = ("（年次有給休暇）\n第１２条　会社は、６か月間継続勤務し、所定労働日の８割以上\n"
            "出勤した従業員に対して、１０日の年次有給休暇を\n- 3 -\n与える。\n"
            "２　年次有給休暇は、半日単位で取得することが\nできる。\n（賞与）\n第13条　賞与は年2回\n"
            "支給する。\n12")
    passages = split(Extracted(DocumentFormat.PDF, [page], from_layout=True), "就業規則")
    assert [p.section for p in passages] == ["第12条(年次有給休暇)", "第13条(賞与)"]
    assert passages[0].text == (
        "（年次有給休暇）\n第１２条　会社は、６か月間継続勤務し、所定労働日の８割以上出勤した従業員に対して、"
        "１０日の年次有給休暇を与える。\n２　年次有給休暇は、半日単位で取得することができる。")
    assert passages[1].text == "（賞与）\n第13条　賞与は年2回支給する。"
    assert {p.page for p in passages} == {1}


@pytest.mark.parametrize(("lines", "expected"), [
    (["ABC社の", "規程"], ["ABC社の規程"]),
    (["English words", "continue here."], ["English words continue here."]),
    (["第1章 総則", "（目的）", "第1条 目的"], ["第1章 総則", "（目的）", "第1条 目的"]),
    (["次のとおり", "一 役員 5,000円", "二 管理職", "3,000円"],
     ["次のとおり", "一 役員 5,000円", "二 管理職3,000円"]),
    (["終わり。", "次の文"], ["終わり。", "次の文"]),
    (["段落1", "", "段落2"], ["段落1", "", "段落2"]),
])
def test_rejoin_rules(lines: list[str], expected: list[str]) -> None:
    assert rejoin(lines) == expected


def test_running_headers_and_page_numbers_of_a_long_pdf_are_dropped() -> None:
    pages = [f"株式会社さくら精機 就業規則\n第{n}条　第{n}条の本文である。\n{n}" for n in range(1, 5)]
    passages = split(Extracted(DocumentFormat.PDF, pages, from_layout=True), "就業規則")
    assert [p.section for p in passages] == ["第1条", "第2条", "第3条", "第4条"]
    assert [p.page for p in passages] == [1, 2, 3, 4]
    assert all("株式会社" not in p.text for p in passages)


def test_long_sections_are_chunked_and_keep_their_label() -> None:
    body = "\n".join(f"{n}　従業員は、業務上の必要に応じて所定の手続を行い、所属長の承認を得るものとする。" * 3
                     for n in range(2, 30))
    text = f"（服務規律）\n第19条　従業員は誠実に職務を遂行しなければならない。\n{body}"
    passages = split(Extracted(DocumentFormat.TEXT, [text]), "就業規則")
    assert len(passages) > 3
    assert {p.section for p in passages} == {"第19条(服務規律)"}
    assert all(len(p.text) <= MAX_CHARS + MAX_CHARS // 4 for p in passages)
    assert all(len(p.text) >= 200 for p in passages)
    joined = "\n".join(p.text for p in passages)
    assert joined == text  # nothing lost, nothing repeated, in order


def test_one_enormous_line_is_cut_at_sentences() -> None:
    text = "第1条　" + "賞与は会社の業績により支給する。" * 300
    passages = split(Extracted(DocumentFormat.TEXT, [text]), "x")
    assert len(passages) > 5
    assert all(p.text.endswith("。") and len(p.text) <= MAX_CHARS for p in passages)


def test_title_line_alone_is_not_a_passage_but_text_before_articles_is() -> None:
    assert labels("就業規則\n\n第1条　目的") == ["第1条(目的)"]
    with_preamble = split(Extracted(DocumentFormat.TEXT, [
        "この規程は、経理部が定め、全社に適用する。改定は取締役会の承認による。\n第1条　目的"]), "経理規程")
    assert [p.section for p in with_preamble] == ["経理規程", "第1条(目的)"]


def test_a_sentence_cut_by_a_page_break_is_one_line() -> None:
    """GIVEN a PDF whose sentence runs from the foot of one page onto the next WHEN split
    THEN the passage holds it whole, so no quote ends in 「…応じて同」."""
    pages = ["第9条（日当）\n国内出張の日当は、出張1日あたり2,000円とする。出張の日数に応じて同",
             "額を支給する。\n第10条（宿泊費）\n宿泊費は、1泊10,000円を上限とする。"]
    passages = split(Extracted(DocumentFormat.PDF, pages, from_layout=True), "出張旅費規程")
    daily = next(p for p in passages if p.section.startswith("第9条"))
    assert "出張の日数に応じて同額を支給する。" in daily.text
    assert daily.page == 1
