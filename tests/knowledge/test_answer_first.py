"""Answer first: what a question asks for, the line of a real rule that holds it, and a
draft that states it before anything else (real published rules of デンキヤギ株式会社, CC0:
tests/fixtures/rules/denkiyagi)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ushiro import knowledge
from ushiro.identity import command_line
from ushiro.knowledge import DocumentIn, SearchHit
from ushiro.knowledge.drafting import facts, offline, topic
from ushiro.knowledge.drafting.drafters import DraftResult, TenantContext
from ushiro.knowledge.drafting.offline import OfflineDrafter
from ushiro.knowledge.drafting.reading import Clause, Reader
from ushiro.knowledge.drafting.wording import polite, told

RULES = Path(__file__).resolve().parents[1] / "fixtures" / "rules" / "denkiyagi"


@pytest.mark.parametrize(("question", "kind"), [
    ("出張の日当っていくら？", "amount"),
    ("通勤手当の上限は？", "amount"),
    ("忌引きは何日もらえますか", "days"),
    ("結婚休暇っていつまでに申請すればいいですか", "deadline"),
    ("定年って何歳？", "age"),
    ("給料日いつ？", "date"),
    ("始業時間は何時ですか", "time"),
    ("退職金はどうやって受け取るんですか", "procedure"),
    ("生理休暇は有給ですか", "yesno"),
    ("健康診断は年に何回ありますか", "count"),
])
def test_question_kind(question: str, kind: str) -> None:
    """GIVEN an employee's question WHEN its kind is detected THEN it names the fact asked."""
    assert facts.question_kind(question) == kind


@pytest.mark.parametrize(("plain", "reply"), [
    # Told to the employee, what the company does not pay is 「支給されません」; an object
    # marked with を keeps the company as the one who pays.
    ("宿泊費は支給しない。", "宿泊費は支給されません。"),
    ("会社は日当を支給しない。", "会社は日当を支給しません。"),
    ("休職期間中は、賃金を支給しない。", "休職期間中は、賃金は支給されません。"),
    ("宿泊費を次のとおり支給する。", "宿泊費を次のとおり支給します。"),
    ("慶弔休暇を与える。", "慶弔休暇を与えます。"),
    ("入籍日から6か月以内とする。", "入籍日から6か月以内とします。"),
    ("30日前までに届け出なければならない。", "30日前までに届け出なければなりません。"),
    ("休日を含む。", "休日を含みます。"),
    ("最大5日", "最大5日です。"),
    # A kanji before る: the verb's conjugation decides (申し出る is 一段, 減る 五段).
    ("付保証明が必要な場合は人事部に申し出る。", "付保証明が必要な場合は人事部に申し出ます。"),
    ("手当が減る。", "手当が減ります。"),
])
def test_polite_form(plain: str, reply: str) -> None:
    """GIVEN a rule's plain sentence WHEN told in a reply THEN it is in the polite form."""
    assert polite(plain) == reply


def hit(document: str, article: int, *, score: float = 8.0, kind: str = "company") -> SearchHit:
    """The article of a real rule as search returns it (one passage)."""
    text = (RULES / f"{document}.md").read_text("utf-8")
    start = text.index(f"### 第{article}条")
    end = text.find("\n### ", start + 1)
    body = text[start:end if end > 0 else None].removeprefix("### ")
    return SearchHit(article, document, 1, f"第{article}条", document, None, score, body,
                     kind=kind)


def answer_of(draft: DraftResult) -> str:
    """The paragraph after the greeting: the answer itself."""
    return draft.answer.split("\n\n")[1]


@pytest.mark.parametrize(("question", "document", "article", "answer", "caption"), [
    # A row of an HTML table under the item the question names (本人が結婚するとき).
    ("結婚するとき慶弔休暇は何日取れますか", "就業規則", 40, "本人が結婚するときの休暇日数は、最大5日です。",
     "慶弔休暇"),
    ("祖母が亡くなったときの慶弔休暇は何日？", "就業規則", 40,
     "兄弟姉妹、祖父母又は配偶者の祖父母が死亡したときの休暇日数は、最大2日です。", "慶弔休暇"),
    ("結婚の慶弔休暇はいつまでに届け出ればいいですか", "就業規則", 40,
     "本人が結婚するときの届出条件は、30日前までに届け出なければなりません。", "慶弔休暇"),
    # A column of a wide table chosen by the question's number (7年 ≥ 6.5年以上).
    ("勤続7年の年次有給休暇は何日ですか", "就業規則", 38, "20日", "年次有給休暇"),
    # 大阪 → 政令指定都市; a Markdown table row by distance; a 「A ・・・ B」 item.
    ("大阪出張の宿泊費はいくら？", "出張旅費規程", 15, "政令指定都市は、1泊あたり8,000円です。", "宿泊費"),
    ("自転車通勤で片道12kmの通勤手当は1日いくら？", "賃金規程", 16,
     "移動区間の距離が10km以上15km未満の場合、1日あたりの支給額は355円です。", "通勤手当"),
    ("有料特急は移動距離何km以上から使えますか", "出張旅費規程", 12, "120km以上", "交通手段"),
    # A plain sentence of the clause, in the reply's polite form.
    ("出張で実家に泊まったら宿泊費は出ますか", "出張旅費規程", 15,
     "自宅及び実家等に宿泊する場合、宿泊費は支給されません。", "宿泊費"),
    # An item of a list whose introduction states what befalls its cases: the item first.
    ("無断欠勤が何日続くと懲戒解雇になりますか", "就業規則", 53,
     "正当な理由なく、無断欠勤が14日以上に及び、出勤の催促に応じなかったときは、諭旨解雇又は懲戒解雇"
     "とします。", "諭旨解雇又は懲戒解雇"),
    # The table under an introduction of two sentences: the sentence that introduces it.
    ("通勤手当の上限っていくら？", "賃金規程", 16, "45,000円", "通勤手当"),
    # A number below every row's range: the row 「2km未満 ・・・ 支給しない」 is the amount.
    ("家から会社まで1.5kmを自転車で通っています。通勤手当は出ますか", "賃金規程", 16,
     "移動区間の距離が2km未満の場合、支給されません。", "通勤手当"),
    # The best line holds no yes or no; the next line of the clause that does is told second.
    ("休職中って給料もらえますか", "就業規則", 19, "休職期間中は、賃金は支給されません。", "休職期間"),
    # A yes or no is a sentence (「…次年度に限り繰りこすことができる。」), not an item of a list.
    ("使いきれなかった有休は来年に繰り越せますか", "就業規則", 38, "次年度", "年次有給休暇"),
    # The employee's verb and the rule's word for it: 申請 → 届け出 (not the 取得期限 row).
    ("結婚休暇っていつまでに申請すればいいですか", "就業規則", 40, "30日前までに届け出", "慶弔休暇"),
    # The row named after the asked kind (休暇日数 for 何日) over another row with a number.
    ("結婚するとき慶弔休暇は何日取れますか", "就業規則", 40, "休暇日数は、最大5日です。", "慶弔休暇"),
    # 第38条 names 年次有給休暇 on every line: the rare words (半日) pick the line.
    ("有休は半日だけ取ることもできますか", "就業規則", 38, "半日", "年次有給休暇"),
])
def test_answer_first_from_the_line_that_holds_the_fact(question: str, document: str,
                                                      article: int, answer: str,
                                                      caption: str) -> None:
    """GIVEN the article of a real rule that answers the question
    WHEN the offline drafter drafts
    THEN the answer right after the greeting states the fact from the matching item, row
    or sentence; the basis names document, article and caption; the article is cited."""
    draft = OfflineDrafter().draft(question, [hit(document, article)], TenantContext())
    assert not draft.abstained, draft.reason
    assert answer in answer_of(draft)
    assert f"根拠: {document} 第{article}条（{caption}）(第1版)" in draft.answer
    assert [c.section for c in draft.citations] == [f"第{article}条"]
    assert "<td" not in draft.answer and "<!--" not in draft.answer


def test_conditions_follow_the_answer() -> None:
    """GIVEN a row whose rule attaches an exception (但し、…延長を認めることがある)
    WHEN the drafter answers with that row THEN the exception follows as なお、…"""
    draft = OfflineDrafter().draft("結婚の慶弔休暇は入籍日からいつまでに取ればいいですか",
                                   [hit("就業規則", 40)], TenantContext())
    assert "6か月以内とします。" in answer_of(draft)
    assert "なお、本人から請求があり、取得時期が明確な場合は、取得期限の延長を認めることがあります。" \
        in draft.answer


@pytest.mark.parametrize("line", [
    "第1章　総則 ………… 1",
    "第12条（年次有給休暇）........ 15",
    "年次有給休暇は、　日とする。",
    "通勤手当は、月額　円とする。",
    "【解説】本条は、労働基準法第39条の定めを確認したものです。",
    "注記：国税庁「マイカー・自転車通勤者の通勤手当」を参照。",
    "Q3. 有給休暇は半日でも取れますか？",
])
def test_never_quoted_as_the_rule(line: str) -> None:
    """A table-of-contents line, a template blank, commentary or a neighbouring question is
    not rule text: it is never a line the drafter can quote."""
    assert facts.is_noise(line)
    assert all(x.text != facts.fold(line) for x in facts.clause_lines(f"{line}\n賞与は支給しない。"))


def test_register_greets_by_name_and_signs() -> None:
    """GIVEN the requester's name and the operator's signature
    WHEN a draft is made THEN it opens 「山田さん　お疲れさまです。」 and ends with the signature;
    the holding reply names the team that will answer."""
    context = TenantContext(requester_name="山田", signature="人事部　佐藤", team="人事部")
    draft = OfflineDrafter().draft("出張の日当はいくらですか", [hit("出張旅費規程", 13)], context)
    assert draft.answer.startswith("山田さん　お疲れさまです。\n\n")
    assert draft.answer.endswith("\n\n人事部　佐藤")
    assert "お問い合わせありがとうございます" not in draft.answer
    held = OfflineDrafter().draft("社員旅行はいつですか", [], context)
    assert held.abstained and held.answer.startswith("山田さん　お疲れさまです。")
    assert "人事部で内容を確認のうえ" in held.answer
    assert "担当部署で" in OfflineDrafter().draft("社員旅行", [], TenantContext()).answer


def test_reference_only_says_so() -> None:
    """GIVEN only reference material supports the answer THEN the draft says so."""
    draft = OfflineDrafter().draft("大阪出張の宿泊費はいくら？",
                                   [hit("出張旅費規程", 15, kind="reference")], TenantContext())
    assert answer_of(draft).startswith(
        "社内規程に定めがないため、出張旅費規程を参考としてご案内します。")


@pytest.fixture
def ask_rules(rt, tenant) -> Callable[[str], DraftResult]:
    for name in ("就業規則", "出張旅費規程", "賃金規程"):
        knowledge.add_document(rt, command_line(tenant.id), DocumentIn(
            f"{name}.md", (RULES / f"{name}.md").read_bytes()))

    def run(question: str) -> DraftResult:
        hits = knowledge.search(rt, command_line(tenant.id), question, k=5)
        return OfflineDrafter().draft(question, hits, TenantContext())

    return run


@pytest.mark.parametrize("question", ["社員旅行っていつ行くの？", "誕生日休暇はありますか",
                                      "在宅勤務手当は出ますか", "社食ってありますか？",
                                      "扶養手当はもらえますか", "作業服は貸与されますか"])
def test_abstains_when_the_topic_is_absent(ask_rules, question: str) -> None:
    """GIVEN real rules that never mention the topic (search still finds a passage sharing
    a word: 旅行 of 旅行損害保険, 休暇 of 慶弔休暇) WHEN asked THEN the draft abstains."""
    draft = ask_rules(question)
    assert draft.abstained and draft.citations == []


@pytest.mark.parametrize(("question", "fact"), [
    ("父が亡くなりました。忌引きは何日もらえますか", "5日"),
    ("出張の日当っていくら？", "2,500円"),
    ("自転車通勤で片道12kmなんですが、通勤手当は1日いくら？", "355円"),
])
def test_answers_when_the_top_passage_holds_the_fact(ask_rules, question: str,
                                                    fact: str) -> None:
    """GIVEN the rules that hold the asked fact WHEN asked colloquially THEN no abstention:
    the fact is in the answer right after the greeting."""
    draft = ask_rules(question)
    assert not draft.abstained, draft.reason
    assert fact in answer_of(draft)


@pytest.mark.parametrize(("question", "compounds"), [
    # The action asked about (支給され, 通勤して) and words that say what about a topic is
    # asked (費用, 書類) are not the topic; okurigana stay inside a compound (祝い金).
    ("制服は支給されますか", ["制服"]),
    ("年末調整の書類はいつまでに出せばいい？", ["年末調整"]),
    ("結婚祝い金っていくらもらえる？", ["結婚祝い金"]),
    ("自転車で通勤してもいいですか", ["自転車"]),
    ("お疲れ様です。有給は何日ですか", ["有給"]),
])
def test_topic_compounds(question: str, compounds: list[str]) -> None:
    """GIVEN an employee's question WHEN its topic is read THEN it is the noun compounds
    that name what it is about."""
    analyzer = offline._shipped_analyzer()
    ignore = offline.STOP_TOKENS
    assert topic.topic_compounds(question, analyzer, ignore) == compounds


@pytest.mark.parametrize(("question", "missing"), [
    # The words of 家族手当 occur apart (家族が死亡したとき, 通勤手当): another topic.
    ("家族手当ってありますか", ["家族手当"]),
    ("健康保険証の再発行はどうすればいい？", ["健康保険証", "再発行"]),
    # Written together, or through a synonym (忌引き → 慶弔休暇): the topic is there.
    ("忌引きは何日もらえますか", []),
    ("慶弔見舞金はいくら？", []),
    # All its words in one sentence, a few words apart: 深夜にタクシーで…タクシー代.
    ("深夜タクシー代は精算できますか", []),
])
def test_topic_named_only_when_written_together(question: str, missing: list[str]) -> None:
    """GIVEN a clause that uses some of the question's words WHEN the topic gate reads it
    THEN the topic counts as named only when its words stand together in the clause."""
    text = ("慶弔休暇\n従業員が次のいずれかに該当し、本人又は家族から申請があった場合は、慶弔見舞金を"
            "支給する。\n家族が死亡したとき\n通勤手当は、次のとおり支給する。\n健康保険、厚生年金保険の"
            "資格取得届を提出する。\n終電を逃し、深夜にタクシーで帰宅した場合のタクシー代は精算できる。")
    analyzer = offline._shipped_analyzer()
    assert topic.unnamed_topic(question, text, analyzer, offline.STOP_TOKENS) == missing


def test_a_rule_for_another_group_yields() -> None:
    """GIVEN the general 通勤手当 article and the one of the chapter on 臨時社員 (ranked first)
    WHEN a question names no group THEN the general article answers; naming the group picks
    that chapter's article."""
    general = hit("賃金規程", 16, score=7.0)
    temporary = hit("賃金規程", 27, score=8.0)
    temporary = SearchHit(temporary.passage_id, temporary.document, 1, temporary.section,
                          "第3章　臨時社員及び嘱託社員の賃金", None, 8.0, temporary.text)
    drafter = OfflineDrafter()
    plain = drafter.draft("自転車通勤で片道12kmですが通勤手当は1日いくら？", [temporary, general],
                          TenantContext())
    assert "355円" in answer_of(plain) and plain.citations[0].section == "第16条"
    named = drafter.draft("臨時社員の自転車通勤、片道12kmの通勤手当は1日いくら？",
                          [temporary, general], TenantContext())
    assert "200円" in answer_of(named) and named.citations[0].section == "第27条"


@pytest.mark.parametrize(("line", "kind", "said"), [
    # 就業規則 第7条 2 (デンキヤギ, CC0): the second sentence is part of the answer.
    ("自転車による通勤を希望する従業員は、事前に届出を行い、会社から許可を受けなければならない。"
     "この際、自転車運転中の事故を補償する保険に加入していない従業員に対しては、自転車通勤を認めることは"
     "ない。", "yesno",
     "自転車による通勤を希望する従業員は、事前に届出を行い、会社から許可を受けなければなりません。"
     "この際、自転車運転中の事故を補償する保険に加入していない従業員に対しては、自転車通勤を認めることは"
     "ありません。"),
    # The sentence holding the asked fact first; 但し of the next one dropped.
    ("年次有給休暇は、取得希望日の前日までに届け出なければならない。但し、業務の都合によりやむを得ない"
     "場合には他の日に変更することがある。", "deadline",
     "年次有給休暇は、取得希望日の前日までに届け出なければなりません。業務の都合によりやむを得ない"
     "場合には他の日に変更することがあります。"),
])
def test_a_short_line_is_told_whole(line: str, kind: str, said: str) -> None:
    """GIVEN a short line of two sentences WHEN it is the answer THEN both are told, in the
    polite form, the one holding the asked fact first."""
    assert told(line, kind) == said


@pytest.mark.parametrize(("question", "numbers"), [
    ("片道12kmです", [(12.0, "km")]),
    # 「を超えた」: just above the number, so that 「60時間以下」 does not hold it.
    ("月60時間を超えた残業", [(60.01, "時間")]),
    ("2km未満の通勤", [(1.99, "km")]),
])
def test_asked_numbers(question: str, numbers: list[tuple[float, str]]) -> None:
    """GIVEN a question with a number WHEN it is read THEN the number, its unit and whether
    it is exceeded are kept."""
    assert facts.asked_numbers(question) == numbers


def test_a_definition_is_not_the_answer() -> None:
    """GIVEN a clause whose purpose line (「…ものである」) shares all the question's words
    WHEN asked for the amount THEN the line holding the amount answers."""
    # 福利厚生規程 第7条 1 and 6 (デンキヤギ, CC0).
    text = ("第7条　セミナー補助\n\n1. セミナー補助は、社員教育、採用活動及び営業活動の一環として、社外での"
            "セミナー、会合、有志での勉強会等を主催又は参加するための費用を補助するものである。\n"
            "6. 補助額は、原則として1月につき5,000円を上限とし、その額は都度会社が決定する。但し、採用活動"
            "及び営業活動に貢献することが見込まれると会社が判断した場合は、この上限額を超えて補助することがある。")
    clause = Clause((SearchHit(1, "福利厚生規程", 1, "第7条", "", None, 5.0, text),), 0)
    analyzer = offline._shipped_analyzer()
    question = "社外の勉強会の費用は補助してもらえる？"
    reader = Reader(question, set(analyzer.query_tokens(question)), analyzer)
    assert "5,000円" in reader.best([clause]).line.text


def test_a_line_deferring_to_another_rule_yields() -> None:
    """GIVEN 就業規則 「出張旅費は、別に定める出張旅費規程により支給する」 ranked above the
    travel rule's own article WHEN asked about an advance THEN the travel rule answers."""
    pointer = SearchHit(49, "就業規則", 1, "第49条", "", None, 9.0,
                        "第49条　出張旅費\n\n1. 出張旅費は、別に定める出張旅費規程により支給するものとする。")
    # 出張旅費規程 第7条 (デンキヤギ, CC0).
    own = SearchHit(7, "出張旅費規程", 1, "第7条", "", None, 6.0,
                    "第7条　出張申請・仮払い\n\n1. 出張しようとする者は、あらかじめ出張申請書を会社に提出し、"
                    "承認を得なければならない。\n2. 前項による承認を受けた際に、希望する者は申請した概算旅費の"
                    "仮払いを受けることができる。")
    draft = OfflineDrafter().draft("出張旅費を前もってもらうことはできますか", [pointer, own],
                                   TenantContext())
    assert draft.citations[0].section == "第7条"
    assert "仮払い" in answer_of(draft)
