"""Knowledge fixtures: a realistic 就業規則, 旅費規程 and FAQ, PDF/DOCX builders, a CLI runner."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_support import cli_invoker, cli_test_env
from typer.testing import Result

RULES = """株式会社さくら精機 就業規則

第１章　総則

（目的）
第１条　この規則は、株式会社さくら精機（以下「会社」という。）の従業員の就業に関する事項を定めるものである。

（適用範囲）
第２条　この規則は、会社に雇用されるすべての従業員に適用する。ただし、パートタイマーの就業に関する事項は別に定める。

（規則の遵守）
第３条　会社及び従業員は、この規則を遵守し、相互に協力して業務の運営に当たらなければならない。

第２章　人事

（採用）
第４条　会社は、入社を希望する者の中から選考により従業員を採用する。

（試用期間）
第５条　新たに採用した者については、採用の日から３か月間を試用期間とする。

（異動）
第６条　会社は、業務上必要がある場合に、従業員の就業する場所又は従事する業務の変更を命ずることがある。

第３章　勤務

（労働時間及び休憩時間）
第７条　所定労働時間は、１日８時間、１週４０時間とする。始業時刻は午前９時、終業時刻は午後６時とし、正午から午後１時までを休憩時間とする。

（休日）
第８条　休日は、土曜日、日曜日、国民の祝日及び年末年始（１２月２９日から１月３日まで）とする。

（時間外労働及び休日労働）
第９条　業務の都合により、所定労働時間を超え、又は休日に労働させることがある。この場合、会社は労使協定の範囲内でこれを命ずる。
２　時間外労働は、１か月４５時間、１年３６０時間を上限とする。
３　時間外労働を行う場合は、事前に所属長の承認を得なければならない。

（出退勤）
第１０条　従業員は、始業及び終業の時刻を勤怠システムに記録しなければならない。

第４章　休暇

（休暇の種類）
第１１条　休暇は、年次有給休暇、慶弔休暇、育児休業及び介護休業とする。

（年次有給休暇）
第十二条　会社は、雇入れの日から６か月間継続勤務し、所定労働日の８割以上出勤した従業員に対して、１０日の年次有給休暇を与える。
２　前項の期間を超えて継続勤務した従業員には、勤続年数に応じて最大２０日の年次有給休暇を与える。
３　年次有給休暇を取得しようとする従業員は、原則として３日前までに所属長に届け出なければならない。
４　年次有給休暇は、半日単位で取得することができる。

（慶弔休暇）
第十三条　従業員が次の各号に該当するときは、慶弔休暇を与える。
一　本人が結婚するとき　５日
二　配偶者が出産するとき　２日
三　父母、配偶者又は子が死亡したとき　５日

（育児休業及び介護休業）
第十四条　育児休業及び介護休業については、育児・介護休業規程の定めるところによる。

第５章　賃金

（賃金）
第１５条　従業員の賃金は、賃金規程の定めるところによる。

（通勤手当）
第１６条　通勤に公共交通機関を利用する従業員には、最も経済的かつ合理的な経路による定期券代相当額を通勤手当として支給する。ただし、月額５万円を上限とする。

（賞与）
第１７条　賞与は、会社の業績及び従業員の勤務成績を考慮して、原則として毎年６月及び１２月に支給する。
２　賞与の支給日に在籍しない者には支給しない。

（退職金）
第１８条　勤続３年以上の従業員が退職したときは、退職金規程により退職金を支給する。

第６章　服務規律及び懲戒

（服務規律）
第１９条　従業員は、会社の指示命令に従い、職務上の責任を自覚し、誠実に職務を遂行しなければならない。

（懲戒）
第２０条　従業員が第１９条の規定に違反したときは、その情状に応じ、けん責、減給、出勤停止又は懲戒解雇とする。

附則
この規則は、２０２４年４月１日から施行する。
"""

TRAVEL = """旅費規程

（目的）
第1条　この規程は、従業員が業務のため出張する場合の旅費の支給について定める。

（旅費の種類）
第2条　旅費は、交通費、日当及び宿泊費とする。

（交通費）
第3条　交通費は、最も経済的な通常の経路及び方法により計算した実費を支給する。
２　新幹線は、片道100km以上の場合に利用することができる。グリーン車の利用は認めない。

第3条の2（航空機の利用）
航空機は、片道500km以上の場合に所属長の承認を得て利用することができる。

（日当）
第4条　日当は、出張1日につき次の額を支給する。
一　役員　5,000円
二　管理職　3,000円
三　一般社員　2,000円

（宿泊費）
第5条　宿泊費は、1泊につき実費を支給する。ただし、東京23区及び政令指定都市は12,000円、その他の地域は10,000円を上限とする。

（精算）
第6条　出張から帰着した日から2週間以内に、領収書を添えて旅費を精算しなければならない。
"""

FAQ = """# 社内FAQ（人事・総務）

Q1. 入社してすぐに有給休暇は使えますか？
A. 入社日から6か月経過後に付与されます。それまでに休む必要がある場合は所属長に相談してください。

Q2. 結婚したときに休暇はもらえますか？
A. 本人の結婚の場合、慶弔休暇として5日取得できます。

問3　住所が変わったときの手続きは？
答　住所変更届を人事部に提出してください。通勤経路が変わる場合は通勤手当の変更申請も必要です。

Q：パソコンが壊れたときは？
A：情報システム部のヘルプデスクに連絡してください。
"""


def make_pdf(pages: list[list[str]]) -> bytes:
    """A PDF with a real Japanese text layer (reportlab's built-in CID font)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("HeiseiKakuGo-W5"))
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    for lines in pages:
        pdf.setFont("HeiseiKakuGo-W5", 10.5)
        y = 800
        for line in lines:
            pdf.drawString(60, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def make_scanned_pdf() -> bytes:
    """What a scanner produces: a page that is only a picture, without any text layer."""
    from PIL import Image, ImageDraw
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    image = Image.new("RGB", (600, 800), "white")
    ImageDraw.Draw(image).rectangle((50, 50, 550, 120), fill="black")
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.drawInlineImage(image, 0, 0, width=595, height=842)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def make_docx(blocks: list[tuple[str, str]]) -> bytes:
    """blocks: (style, text) with style 'h1'…'h3', 'p' or 'table' (cells separated by '|')."""
    import docx

    document = docx.Document()
    for style, text in blocks:
        if style.startswith("h"):
            document.add_heading(text, level=int(style[1]))
        elif style == "table":
            rows = [row.split("|") for row in text.split("\n")]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    table.cell(r, c).text = value
        else:
            document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def kb_cli(tmp_path: Path, db_url_factory: Any) -> Callable[..., Result]:
    """Run `ushiro ARGS…` in-process against its own data directory and database."""
    return cli_invoker(cli_test_env(tmp_path / "data", db_url_factory))


@pytest.fixture
def documents(tmp_path: Path) -> dict[str, Path]:
    """The three sample documents written to files named as a company would name them."""
    folder = tmp_path / "docs"
    folder.mkdir()
    files = {"rules": folder / "就業規則.txt", "travel": folder / "旅費規程.md",
             "faq": folder / "社内FAQ.md"}
    files["rules"].write_text(RULES, encoding="utf-8")
    files["travel"].write_text(TRAVEL, encoding="utf-8")
    files["faq"].write_text(FAQ, encoding="utf-8")
    return files


@pytest.fixture
def texts() -> dict[str, str]:
    return {"rules": RULES, "travel": TRAVEL, "faq": FAQ}


@pytest.fixture
def pdf_of() -> Callable[[list[list[str]]], bytes]:
    return make_pdf


@pytest.fixture
def scanned_pdf() -> bytes:
    return make_scanned_pdf()


@pytest.fixture
def docx_of() -> Callable[[list[tuple[str, str]]], bytes]:
    return make_docx
