"""Which clause answers: the question word over the nouns, the caption the question writes,
the company's rule over the law, the clause that names the topic (texts quoted from the
published rules of デンキヤギ株式会社, CC0, and from 労働基準法 / 育児・介護休業法)."""

from __future__ import annotations

import pytest

from ushiro.knowledge import SearchHit
from ushiro.knowledge.drafting import facts
from ushiro.knowledge.drafting.drafters import DraftResult, TenantContext
from ushiro.knowledge.drafting.offline import OfflineDrafter


def clause(document: str, article: str, text: str, score: float, *,
           kind: str = "company", pid: int = 0) -> SearchHit:
    return SearchHit(pid or hash((document, article)) % 10_000, document, 1, article, "",
                     None, score, text, kind=kind)


def answer_of(draft: DraftResult) -> str:
    return draft.answer.split("\n\n")[1]


@pytest.mark.parametrize(("question", "kind"), [
    # The question word decides over a noun that names the topic (期間 of 休職期間, 手当).
    ("休職期間が終わっても治らなかったらどうなりますか", "outcome"),
    ("試用期間中に辞めたらどういう扱いになりますか", "outcome"),
    ("深夜手当がつくのは何時から？", "time"),
    ("住宅手当は何か月分さかのぼれますか", "days"),
    ("育休の期間は何歳まで延ばせますか", "age"),
    # A confirmation is a yes or no.
    ("有給は年5日は必ず取らないといけないって聞いたけど本当？", "yesno"),
    # Without a question word, the nouns.
    ("通勤手当の上限は？", "amount"),
    ("結婚休暇の取得期限は", "deadline"),
])
def test_question_word_over_topic_noun(question: str, kind: str) -> None:
    """GIVEN a question whose topic noun looks like a kind (期間, 手当) WHEN its kind is
    detected THEN its question word decides."""
    assert facts.question_kind(question) == kind


@pytest.mark.parametrize(("asked", "line", "fit"), [
    ("年5日は取らないといけない", "年次有給休暇が10日以上付与された労働者は、1年以内に5日以上の年次有給休暇を"
     "取得しなければならない。", 1),
    ("片道12kmです", "10km以上15km未満 ・・・ 355円", 1),
    ("片道15kmです", "10km以上15km未満 ・・・ 355円", -1),
    ("片道3kmです", "10日以上付与された者", 0),
])
def test_range_fit_names_the_questions_number(asked: str, line: str, fit: int) -> None:
    """GIVEN a line stating several bounds WHEN the question's number is one of its
    inclusive bounds THEN the line holds it; a number outside a range still does not fit."""
    assert facts.range_fit(facts.asked_numbers(asked), line) == fit


LEAVE_38 = ("第38条　年次有給休暇\n\n1. 年次有給休暇は、次のとおり付与する。\n"
            "2. 従事する業務への実務経験が十分にあり、かつ業務遂行能力が高いと会社が評価した従業員には、"
            "年次有給休暇を前項の定めよりも多く与えることがある。\n"
            "3. 年次有給休暇は、取得希望日の前日までに届け出なければならない。")
LEAVE_45 = ("第45条　生理休暇\n\n1. 生理日の就業が著しく困難な女性従業員が請求したときは、必要な期間休暇を"
            "与える。\n2. 本条による休暇期間の賃金は無給とする。")


def test_the_caption_the_question_writes_wins() -> None:
    """GIVEN 第45条（生理休暇） and 第38条（年次有給休暇）, whose lines match 有給 (expanded to
    年次有給休暇) better WHEN asked 「生理休暇は有給ですか」 THEN 第45条 answers: 無給."""
    draft = OfflineDrafter().draft("生理休暇は有給ですか", [
        clause("就業規則", "第45条", LEAVE_45, 11.5), clause("就業規則", "第38条", LEAVE_38, 8.8)],
        TenantContext())
    assert draft.citations[0].section == "第45条"
    assert "無給" in answer_of(draft)


SUSPEND_18 = ("第18条　休職\n\n1. 従業員が、次のいずれかに該当するときは、休職を命ずることがある。\n"
              "    1. 業務外の傷病による欠勤が6か月以内に通算30日以上にわたったとき。\n"
              "2. 当該傷病が休職期間中の療養によって治癒する蓋然性が低いと認められた場合、会社は、休職を"
              "命ずることなく普通解雇することがある。")
SUSPEND_19 = ("第19条　休職期間\n\n1. 休職期間は、次のとおりとする。\n"
              "3. 休職期間中は、賃金を支給しない。\n"
              "8. 休職期間満了後においても休職事由が消滅しないときは、満了の日をもって自然退職とする。")


def test_the_most_specific_caption_and_the_outcome_line() -> None:
    """GIVEN 第18条（休職） and 第19条（休職期間）, both captions written in the question
    WHEN asked what happens when the period ends THEN the more specific 第19条 answers with
    the line that says what follows: 自然退職."""
    draft = OfflineDrafter().draft("休職期間が終わっても治らなかったらどうなりますか", [
        clause("就業規則", "第18条", SUSPEND_18, 8.9), clause("就業規則", "第19条", SUSPEND_19, 7.8)],
        TenantContext())
    assert draft.citations[0].section == "第19条"
    assert "自然退職" in answer_of(draft)


CARE_43 = ("第43条　育児・介護休業、子の看護休暇等\n\n1. 小学校就学前の子を養育する従業員は、4月に始まる"
           "年度内に子供1人については5日の範囲内で、2人以上の場合は10日の範囲内で子の看護のために休暇を"
           "取得することができる。")
LAW_16_2 = ("（子の看護等休暇の申出）\n第十六条の二　小学校第三学年修了前の子を養育する労働者は、その事業主に"
            "申し出ることにより、一の年度において五労働日（その養育する小学校第三学年修了前の子が二人以上の"
            "場合にあっては、十労働日）を限度として、子の看護等休暇を取得することができる。")


def test_the_company_rule_wins_over_the_law_on_the_same_topic() -> None:
    """GIVEN the company's 第43条 and the statute's 第16条の2, both on 子の看護休暇, the
    statute's line fitting a little better WHEN asked THEN the company's rule answers."""
    draft = OfflineDrafter().draft("子どもが熱を出したときに使える看護休暇は年何日？子どもは1人です", [
        clause("就業規則", "第43条", CARE_43, 20.0),
        clause("育児・介護休業法", "第16条の2", LAW_16_2, 13.0, kind="reference")],
        TenantContext())
    assert draft.citations[0].document == "就業規則"
    assert "5日" in answer_of(draft)


LAW_37 = ("（時間外、休日及び深夜の割増賃金）\n第三十七条　４　使用者が、午後十時から午前五時までの間に"
          "おいて労働させた場合においては、その時間の労働については、通常の労働時間の賃金の計算額の二割五分"
          "以上の率で計算した割増賃金を支払わなければならない。")
LAW_61 = ("（深夜業）\n第六十一条　使用者は、満十八才に満たない者を午後十時から午前五時までの間において使用"
          "してはならない。")
WAGE_18 = ("第18条　所定外労働手当\n\n1. 深夜労働手当は、22時から翌朝5時までの間に労働した時間について、"
           "1時間あたりの基本給の25%を割増して支給する。")


def test_a_company_rule_further_down_joins_when_only_the_law_leads() -> None:
    """GIVEN two statute passages ranked above the company's own 賃金規程 第18条 WHEN asked
    THEN the company's rule answers, and the draft never claims the company has no rule."""
    draft = OfflineDrafter().draft("深夜手当がつくのは何時から？", [
        clause("労働基準法", "第37条", LAW_37, 7.1, kind="reference"),
        clause("労働基準法", "第61条", LAW_61, 4.2, kind="reference"),
        clause("賃金規程", "第18条", WAGE_18, 3.3)], TenantContext())
    assert draft.citations[0].document == "賃金規程"
    assert "22時" in answer_of(draft)
    assert "社内規程に定めがない" not in draft.answer


SEMINAR_7 = ("第7条　セミナー補助\n\n1. セミナー補助は、社員教育の一環として、社外でのセミナー等に参加するための"
             "費用を補助するものである。\n2. 勤務地の近隣で開催されるセミナー等へ参加する場合の補助対象費用は、"
             "参加費、交通費とする。\n3. 補助額は、原則として1月につき5,000円を上限とする。")
TRAVEL_17 = ("第17条　その他費用\n\n1. 出張の際に要した通信費、事務費、荷物保管料等の少額の費用は、会社が"
             "認めたものに限り実費を支給する。")


def test_the_answering_clause_names_the_topic() -> None:
    """GIVEN セミナー補助 (it shares 補助 and 勤務 of 在宅勤務) scoring best and a travel clause
    naming 通信費 WHEN asked about テレワークの通信費 THEN the seminar clause is never the
    answer."""
    draft = OfflineDrafter().draft("テレワークの通信費は補助されますか", [
        clause("出張旅費規程", "第17条", TRAVEL_17, 6.7),
        clause("福利厚生規程", "第7条", SEMINAR_7, 6.4)], TenantContext())
    assert "セミナー" not in answer_of(draft)
    assert all(c.document != "福利厚生規程" for c in draft.citations[:1])


@pytest.mark.parametrize(("question", "compounds"), [
    ("結婚休暇っていつまでに申請すればいいですか", ["結婚休暇"]),  # って after a noun
    ("マイナンバーカード持ってないんだけど", ["マイナンバーカード"]),  # 持って is a verb
    ("去年もらった有休が結構残ってる。年度が変わったら消えちゃう？", ["有休"]),  # when, not what
    ("今月残業が60時間を超えそう", ["残業"]),
    ("会社の都合で引っ越すことになったら、引っ越し代って出る？", ["引っ越す", "引っ越し"]),
])
def test_topic_compounds_of_chatty_questions(question: str, compounds: list[str]) -> None:
    """GIVEN a colloquial question (って, time words, circumstances) WHEN its topic compounds
    are read THEN they are what it asks about."""
    from ushiro.knowledge.drafting import offline, topic

    assert topic.topic_compounds(question, offline._shipped_analyzer()) == compounds


POINTER_39 = ("第39条　育児・介護休業、子の看護休暇等\n\n1. 育児・介護休業等の取扱いについては、"
              "育児介護休業規程に定める。")


def test_a_rule_deferring_to_a_rule_not_loaded_abstains() -> None:
    """GIVEN only 就業規則's pointer to a 育児介護休業規程 the tenant has not loaded WHEN asked
    about 育休 THEN the draft holds (a person answers) instead of quoting the pointer."""
    draft = OfflineDrafter().draft("育児休業って子どもが何歳になるまで取れるの？", [
        clause("就業規則", "第39条(育児・介護休業、子の看護休暇等)", POINTER_39, 9.0)],
        TenantContext())
    assert draft.abstained and "育児介護休業規程" in (draft.reason or "")


WAGE_16 = ("第16条　通勤手当\n\n1. 通勤手当は、会社が合理的であると認めた通勤経路・方法に限り、交通費を実費"
           "支給する。上限は月額45,000円とする。")
WAGE_27 = ("第27条　通勤手当\n\n1. 公共交通機関を利用して通勤する場合、1日あたり1,000円を上限として実費を"
           "支給する。")


def test_a_fixed_term_chapter_answers_whatever_the_company_calls_them() -> None:
    """GIVEN 賃金規程 with a chapter for 臨時社員 WHEN a 契約社員 asks about 交通費 THEN that
    chapter's 通勤手当 answers (1,000円), not the regular employees' 45,000円."""
    regular = clause("賃金規程", "第16条", WAGE_16, 10.7)
    temporary = SearchHit(27, "賃金規程", 1, "第27条", "第3章 臨時社員の賃金", None, 9.5,
                          WAGE_27)
    draft = OfflineDrafter().draft("契約社員で電車通勤なんだけど、交通費って1日いくらまで出る？",
                                   [regular, temporary], TenantContext())
    assert "1,000円" in answer_of(draft)


SUSPEND_10 = ("第10条　休職\n\n1. 業務外の傷病により欠勤し、3か月を経過しても治癒しないときは、休職を"
              "命ずる。休職期間は、勤続年数にかかわらず1年6か月を限度とする。")


def test_a_long_question_passes_when_the_caption_is_its_word() -> None:
    """GIVEN a question telling its circumstances at length WHEN the best clause's caption
    (休職) is one of its words THEN it is answered, not held back for low word coverage."""
    draft = OfflineDrafter().draft(
        "持病が悪化してもう2か月以上休んでる…まだ治らないんだけど、休職ってどれくらいまでさせてもらえる？",
        [clause("就業規則", "第10条(休職)", SUSPEND_10, 8.0)], TenantContext())
    assert not draft.abstained, draft.reason
    assert "1年6か月" in draft.answer


@pytest.mark.parametrize(("question", "written"), [
    ("出張って会社に寄らないといけない？", "出張は会社に寄らないといけない？"),  # 出 + 張って
    ("手伝ってもらえますか", "手伝ってもらえますか"),  # a verb of the whole run
    ("間違って申請した", "間違って申請した"),
])
def test_colloquial_topic_marker(question: str, written: str) -> None:
    """GIVEN 「〇〇って」 WHEN the question is analysed THEN a noun the dictionary would break
    into a verb keeps its word (出張), and a verb stays a verb."""
    from ushiro.knowledge.retrieval.tokenize import colloquial_topic

    assert colloquial_topic(question) == written


@pytest.mark.parametrize(("request_text", "parts"), [
    ("10月5日から2泊で大阪に出張します。日当はいくらになりますか。また、宿泊費の上限も教えてください。",
     ["10月5日から2泊で大阪に出張します。 日当はいくらになりますか。",
      "10月5日から2泊で大阪に出張します。 また、宿泊費の上限も教えてください。"]),
    ("結婚休暇っていつまでに申請すればいいですか", []),  # one question: read whole
    ("契約社員から正社員になれますか。条件は？", []),  # 条件は？ goes on asking the first
    ("給料は現金でもらえるの？振込？", []),
])
def test_the_questions_a_request_asks(request_text: str, parts: list[str]) -> None:
    """GIVEN a request WHEN its questions are read THEN each asking sentence is one, with
    the circumstances told before it; a short follow-up belongs to the question before."""
    from ushiro.knowledge.drafting.questions import asked_parts

    assert asked_parts(request_text) == [facts.fold(p) for p in parts]


DAILY_13 = ("第13条　日当\n\n1. 日当は、出張1日につき2,500円を支給する。")
LODGING_14 = ("第14条　宿泊費\n\n1. 宿泊費は、1泊につき次の額を上限として実費を支給する。\n"
              "    * 東京23区 ・・・ 1泊あたり9,000円\n    * 政令指定都市 ・・・ 1泊あたり8,000円\n"
              "    * その他の地域 ・・・ 1泊あたり7,000円")


def test_each_question_of_a_request_is_answered() -> None:
    """GIVEN a request asking for 日当 and for 宿泊費 on a trip to 大阪 WHEN drafted THEN the
    answer states both (2,500円 and the 政令指定都市 8,000円) and cites both articles."""
    draft = OfflineDrafter().draft(
        "10月5日から2泊で大阪に出張します。日当はいくらになりますか。また、宿泊費の上限も教えてください。",
        [clause("出張旅費規程", "第14条(宿泊費)", LODGING_14, 9.0),
         clause("出張旅費規程", "第13条(日当)", DAILY_13, 8.0)], TenantContext())
    answer = answer_of(draft)
    assert "2,500円" in answer and "8,000円" in answer, answer
    assert {c.section for c in draft.citations} >= {"第13条(日当)", "第14条(宿泊費)"}


def test_still_in_time_asks_for_the_deadline() -> None:
    """GIVEN 「まだ間に合う？」 WHEN its kind is read THEN it asks for a deadline."""
    assert facts.question_kind("本を買ったのが1か月半前なんだけど、補助の申請ってまだ間に合う？") == "deadline"


def test_a_group_named_in_the_employees_words() -> None:
    """GIVEN a rule set for 短時間正社員 WHEN the question says 時短 THEN the clause is not
    held to be for another group (it is the asker's own)."""
    from ushiro.knowledge.drafting import offline
    from ushiro.knowledge.drafting.reading import Clause, Reader

    analyzer = offline._shipped_analyzer()
    question = "時短の正社員に切り替えたい。いつまでに言えばいい？"
    reader = Reader(question, set(analyzer.query_tokens(question)), analyzer)
    own = Clause((SearchHit(3, "短時間正社員就業規則", 1, "第3条", "", None, 5.0,
                            "第3条　申出\n\n1. 短時間正社員を希望する者は、30日前までに申し出る。"),), 0)
    assert reader.out_of_scope(own) < 0


def test_a_subject_line_is_no_circumstance_of_the_second_question() -> None:
    """GIVEN a request titled 「出張の日当について」 asking for 日当 and 宿泊費 WHEN drafted THEN
    both are answered: the title does not pull the second question back to 日当."""
    draft = OfflineDrafter().draft(
        "出張の日当について\n10月5日から2泊で大阪に出張します。日当はいくらになりますか。"
        "また、宿泊費の上限も教えてください。",
        [clause("出張旅費規程", "第13条(日当)", DAILY_13, 25.0),
         clause("出張旅費規程", "第14条(宿泊費)", LODGING_14, 18.0)], TenantContext())
    answer = answer_of(draft)
    assert "2,500円" in answer and "8,000円" in answer, answer


@pytest.mark.parametrize(("kind", "text", "holds"), [
    ("amount", "単価が10万円以上の物品", True),  # 万 between the number and 円
    ("amount", "上限は5千円とする", True),
    ("amount", "使用可能期間が1年以上の物品", False),
])
def test_amounts_written_with_man_and_sen(kind: str, text: str, holds: bool) -> None:
    """GIVEN a line stating an amount in 万円 or 千円 WHEN read THEN it holds an amount."""
    assert facts.holds_fact(kind, text) is holds


def test_the_closing_day_is_a_date() -> None:
    """GIVEN 「何日締め」 WHEN its kind is read THEN it asks for a date, not a number of days."""
    assert facts.question_kind("フレックスの1か月の区切りって、何日締めなの？") == "date"


def test_who_to_ask_is_its_own_kind() -> None:
    """GIVEN 「誰に相談すればいい？」 WHEN its kind is read THEN it asks who, and a line naming a
    role holds such a fact."""
    assert facts.question_kind("マイナンバーの扱いで気になることがある。誰に相談すればいい？") == "who"
    assert facts.holds_fact("who", "特定個人情報責任者は、総務部長とする。")


def test_a_wish_is_a_circumstance_not_a_question() -> None:
    """GIVEN 「…切り替えたい。いつまでに言えばいい？」 WHEN its questions are read THEN it asks
    one thing, the deadline."""
    from ushiro.knowledge.drafting.questions import asked_parts

    assert asked_parts("親の介護で時短の正社員に切り替えたい。いつまでに言えばいい？") == []


@pytest.mark.parametrize(("question", "text", "named"), [
    # 予防接種 written as one term, インフルエンザ listed under it: the topic is there.
    ("子どものインフル予防接種も補助の対象になる？",
     "第8条　予防接種補助\n1. 次の予防接種の費用を補助する。\n    * インフルエンザ", True),
    # A one-word core (手当) and the qualifier elsewhere (家族) are not 家族手当.
    ("家族手当はもらえますか",
     "第16条　通勤手当\n1. 家族が死亡したときは届け出る。\n2. 通勤手当を支給する。", False),
])
def test_a_qualified_topic_named_by_its_core(question: str, text: str, named: bool) -> None:
    """GIVEN a topic made of a qualifier and a core of two words WHEN the clauses write the
    core as one term and the qualifier elsewhere THEN the topic counts as named."""
    from ushiro.knowledge.drafting import offline, topic

    missing = topic.unnamed_topic(question, text, offline._shipped_analyzer())
    assert (not missing) is named, missing
