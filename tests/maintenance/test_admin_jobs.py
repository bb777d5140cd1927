"""The /admin/jobs page: a tenant's job backlog, in Japanese, for its administrators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from ushiro import jobs
from ushiro.core.runtime import Runtime
from ushiro.identity import Role, Tenant, User
from ushiro.jobs.models import Job  # a job that gave up has no public way to be made


@jobs.handler("test.admin_page")
def _never_run(rt: Runtime, payload: dict[str, Any]) -> None:
    raise AssertionError("jobs wait in the queue in these tests")




def _enqueue(rt: Runtime, tenant_id: int, count: int) -> list[int]:
    with rt.db.transaction() as session:
        return [jobs.enqueue(session, "test.admin_page", {}, tenant_id=tenant_id).id
                for _ in range(count)]


def test_the_admin_sees_the_backlog_of_their_own_tenant_in_japanese(
        queued: Runtime, client: TestClient, tenant: Tenant, make_tenant: Callable[..., Tenant],
        make_user: Callable[..., User], login: Callable[[str], str]) -> None:
    """GIVEN tenant A with three jobs waiting and one that gave up, and another tenant with
    five waiting WHEN A's admin opens 「バックグラウンド処理」 THEN it shows A's counts only
    (3 waiting, 1 failed), the age of the oldest, the retention, and the failed job with
    its error, in Japanese."""
    waiting = _enqueue(queued, tenant.id, 4)
    _enqueue(queued, make_tenant().id, 5)
    with queued.db.transaction() as session:
        job = session.get(Job, waiting[0])
        assert job is not None
        job.status, job.attempts, job.last_error = "failed", 5, "SMTPException: 接続できません"
    login(make_user(Role.ADMIN).email)
    page = client.get("/admin/jobs")
    assert page.status_code == 200
    text = page.text
    for label in ("バックグラウンド処理", "待機中", "実行中", "失敗", "最も古い未完了ジョブ",
                  "失敗したジョブ", "完了したジョブは 7 日後、失敗したジョブは 28 日後に削除されます。"):
        assert label in text, label
    assert '<td id="jobs-pending">3</td>' in text and '<td id="jobs-failed">1</td>' in text
    assert "秒前" in text.split('id="jobs-oldest">')[1].split("</td>")[0]
    assert "SMTPException: 接続できません" in text and "test.admin_page" in text


def test_an_empty_queue_says_so(client: TestClient, make_user: Callable[..., User],
                                login: Callable[[str], str]) -> None:
    login(make_user(Role.ADMIN).email)
    text = client.get("/admin/jobs").text
    assert '<td id="jobs-pending">0</td>' in text and '<td id="jobs-oldest">-</td>' in text
    assert "失敗したジョブはありません。" in text


def test_operators_do_not_see_the_queue(client: TestClient, make_user: Callable[..., User],
                                        login: Callable[[str], str]) -> None:
    login(make_user(Role.OPERATOR).email)
    assert client.get("/admin/jobs").status_code == 403
