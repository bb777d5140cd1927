"""Helpers and texts shared by the answers tests (fixtures are in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient

from ushiro.answers import selfservice
from ushiro.answers import service as answers
from ushiro.answers.choices import AutomationMode
from ushiro.answers.models import CategoryAutomation
from ushiro.answers.schemas import ApproveIn, DraftOut
from ushiro.core.runtime import Runtime
from ushiro.desk import Channel, RequestCreate
from ushiro.desk import service as desk
from ushiro.identity import Principal, Tenant, User

RULES = """株式会社さくら精機 就業規則

第１章　総則

（目的）
第１条　この規則は、株式会社さくら精機の従業員の就業に関する事項を定めるものである。

第２章　勤務

（労働時間及び休憩時間）
第７条　所定労働時間は、１日８時間、１週４０時間とする。始業時刻は午前９時、終業時刻は午後６時とし、正午から午後１時までを休憩時間とする。

（時間外労働及び休日労働）
第９条　業務の都合により、所定労働時間を超え、又は休日に労働させることがある。
２　時間外労働は、１か月４５時間、１年３６０時間を上限とする。
３　時間外労働を行う場合は、事前に所属長の承認を得なければならない。

第３章　休暇

（年次有給休暇）
第１２条　雇入れの日から６か月間継続勤務し、所定労働日の８割以上出勤した従業員に対しては、１０日の年次有給休暇を与える。<重要>
２　年次有給休暇を取得しようとする者は、原則として取得日の３日前までに所定の様式により届け出なければならない。

（慶弔休暇）
第１３条　従業員が結婚するときは５日、配偶者が出産するときは２日の慶弔休暇を与える。慶弔休暇は有給とする。
"""

# Readable by operators only: what an employee must not get from self-service.
MANUAL = """経理担当者マニュアル

（社内ポイント制度）
第５条　社内ポイント制度の原資は、四半期ごとに経理部が福利厚生費から予算化する。
"""

QUESTION = "有給休暇は入社後いつから何日もらえますか？"
CATEGORY = "勤怠・休暇"  # work type: judgment


@dataclass
class People:
    tenant: Tenant
    employee: User
    operator: User
    admin: User
    employee_p: Principal
    operator_p: Principal
    admin_p: Principal


def ask(rt: Runtime, who: Principal, text: str = QUESTION, category: str | None = CATEGORY,
        channel: Channel = Channel.PORTAL) -> int:
    """An employee's request; returns its id (its automatic draft is made after commit)."""
    data = RequestCreate(title=text[:60], body=text, category=category)
    return desk.submit(rt, who, data, channel=channel).id


def current_draft(rt: Runtime, who: Principal, request_id: int) -> DraftOut:
    drafts = answers.drafts_for_request(rt, who, request_id)
    assert drafts, "the request has a draft"
    return drafts[0]


def review(rt: Runtime, people: People, *, accepted: bool) -> None:
    """One more reviewed draft in the category: sent as drafted, or rewritten."""
    request_id = ask(rt, people.employee_p)
    draft = current_draft(rt, people.operator_p, request_id)
    assert not draft.abstained, draft.reason
    text = draft.answer if accepted else "担当者が確認しました。詳しくは人事部までお電話ください。"
    answers.approve(rt, people.operator_p, draft.id, ApproveIn(text=text))


def set_mode_directly(rt: Runtime, tenant_id: int, category_id: int,
                      mode: AutomationMode) -> None:
    """Arrange a mode without earning it (for tests of what a mode does, not of the rule)."""
    with rt.db.transaction() as session:
        row = selfservice.repository.automation(session, tenant_id, category_id)
        if row is None:
            session.add(CategoryAutomation(tenant_id=tenant_id, category_id=category_id,
                                           mode=mode.value))
        else:
            row.mode = mode.value


def csrf_of(client: TestClient, url: str) -> str:
    page = client.get(url)
    return page.text.split('name="csrf_token" value="')[1].split('"')[0]


