"""Persisted search indexes: saved once per stamp, loaded after a restart without a rebuild,
rebuilt when damaged or stale, built once when two processes need them at once, never
loaded for another tenant; and the index cache budgeted in bytes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from ushiro import knowledge
from ushiro.core.db import Database
from ushiro.core.runtime import Runtime
from ushiro.core.settings import Settings
from ushiro.identity import Tenant, command_line
from ushiro.knowledge import DocumentIn
from ushiro.knowledge.retrieval import index as kb_index
from ushiro.knowledge.retrieval import persist
from ushiro.knowledge.retrieval.backend import IndexCache

QUESTION = "有給休暇は入社後いつから何日もらえますか"


@pytest.fixture
def company(rt: Runtime, tenant: Tenant, texts: dict[str, str]) -> None:
    for filename, key in (("就業規則.txt", "rules"), ("旅費規程.md", "travel"),
                          ("社内FAQ.md", "faq")):
        knowledge.add_document(rt, command_line(tenant.id), DocumentIn(filename, texts[key].encode()))


def hits(rt: Runtime, tenant: Tenant, question: str = QUESTION) -> list[tuple[object, ...]]:
    return [(h.passage_id, h.document, h.version, h.section, h.context, h.page, h.score, h.text)
            for h in knowledge.search(rt, command_line(tenant.id), question, k=10)]


def restarted(rt: Runtime) -> Runtime:
    """What a new process sees: an empty cache, a new runtime on the same data directory."""
    kb_index._indexes.clear()
    return Runtime(rt.settings, rt.db)


def stamp_dir(rt: Runtime, tenant: Tenant) -> Path:
    where = persist.place(rt.settings.index_dir, rt.db.url, tenant.id, "bm25")
    found = [p for p in where.root.iterdir() if p.is_dir()]
    assert len(found) == 1, found
    return found[0]


def test_persisted_index_is_loaded_after_a_restart_without_rebuilding(rt, tenant, company):
    """GIVEN a tenant whose index was built and saved by one process
    WHEN a process started afterwards searches
    THEN it loads the saved index (no build) and finds exactly what the first found."""
    first = hits(rt, tenant)
    assert first
    built = kb_index.counts["built"]
    loaded = kb_index.counts["loaded"]
    again = hits(restarted(rt), tenant)
    assert again == first
    assert kb_index.counts["built"] == built and kb_index.counts["loaded"] == loaded + 1
    assert (stamp_dir(rt, tenant) / persist.MANIFEST).is_file()


def test_results_are_identical_with_and_without_persistence(rt, tenant, company):
    """GIVEN the same passages WHEN searched from an index built in memory (persistence
    off) and from one loaded memory-mapped from disk THEN every hit, score and text is the
    same, for questions long and short, with and without a match."""
    questions = [QUESTION, "出張の日当", "新幹線は何キロから使えますか", "パソコンが壊れた",
                 "結婚休暇", "宇宙旅行の規程"]
    memory = Runtime(rt.settings.model_copy(update={"search_persist": False}), rt.db)
    kb_index._indexes.clear()
    in_memory = [hits(memory, tenant, q) for q in questions]
    kb_index._indexes.clear()
    hits(rt, tenant)  # builds and saves
    from_disk = restarted(rt)
    loaded = kb_index.counts["loaded"]
    assert [hits(from_disk, tenant, q) for q in questions] == in_memory
    assert kb_index.counts["loaded"] == loaded + 1


def damage_truncate(folder: Path) -> None:
    victim = max(folder.glob("*.npy"), key=lambda p: p.stat().st_size)
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])


def damage_garbage(folder: Path) -> None:
    victim = max(folder.glob("*.npy"), key=lambda p: p.stat().st_size)
    data = bytearray(victim.read_bytes())
    data[-64:] = b"\xff" * 64  # same size: only the checksum can tell
    victim.write_bytes(bytes(data))


def damage_version(folder: Path) -> None:
    manifest = json.loads((folder / persist.MANIFEST).read_text())
    manifest["format"] = persist.FORMAT + 1
    (folder / persist.MANIFEST).write_text(json.dumps(manifest))


def damage_escape(folder: Path) -> None:
    manifest = json.loads((folder / persist.MANIFEST).read_text())
    manifest["components"]["chars"]["arrays"]["_rows"] = "../../../../etc/hostname"
    (folder / persist.MANIFEST).write_text(json.dumps(manifest))


def damage_manifest(folder: Path) -> None:
    (folder / persist.MANIFEST).write_bytes(b"\x00garbage{")


def damage_bm25s(folder: Path) -> None:
    next(folder.glob("words.*/vocab.index.json")).write_text("{", encoding="utf-8")


@pytest.mark.parametrize("damage", [damage_truncate, damage_garbage, damage_version,
                                    damage_manifest, damage_bm25s, damage_escape])
def test_damaged_index_file_is_rebuilt(rt, tenant, company, damage, caplog):
    """GIVEN a saved index damaged on disk (truncated, bytes altered, another format, a
    manifest or a bm25s file that is not JSON, a manifest naming a file outside the index)
    WHEN a restarted process searches
    THEN the damage is logged, the index rebuilt and saved again, and the answer is the
    same as before; the next restart loads the new file."""
    first = hits(rt, tenant)
    damage(stamp_dir(rt, tenant))
    built, damaged = kb_index.counts["built"], kb_index.counts["damaged"]
    assert hits(restarted(rt), tenant) == first
    assert kb_index.counts["built"] == built + 1
    assert kb_index.counts["damaged"] == damaged + 1
    assert "unusable, rebuilding" in caplog.text
    loaded = kb_index.counts["loaded"]
    assert hits(restarted(rt), tenant) == first
    assert kb_index.counts["loaded"] == loaded + 1 and kb_index.counts["built"] == built + 1


def test_stale_index_is_rebuilt_and_removed(rt, tenant, company):
    """GIVEN a saved index WHEN a document is added (a new stamp) and a restarted process
    searches THEN the index is rebuilt once, finds the new document, and only the new
    stamp's directory remains."""
    hits(rt, tenant)
    old = stamp_dir(rt, tenant)
    knowledge.add_document(rt, command_line(tenant.id), DocumentIn(
        "慶弔見舞金規程.md", "第1条　結婚祝金は３万円を支給する。".encode()))
    built, stale = kb_index.counts["built"], kb_index.counts["stale"]
    found = hits(restarted(rt), tenant, "結婚祝金はいくら")
    assert found[0][1] == "慶弔見舞金規程"
    assert kb_index.counts["built"] == built + 1 and kb_index.counts["stale"] == stale + 1
    assert not old.exists() and stamp_dir(rt, tenant) != old


def test_another_tenants_index_is_never_loaded(rt, tenant, make_tenant, company):
    """GIVEN tenant A's saved index copied into tenant B's place under B's stamp
    WHEN B searches THEN the copy is refused (its manifest names A) and B's own index is
    built: B finds nothing of A's."""
    import shutil

    hits(rt, tenant)
    other = make_tenant("momiji", "もみじ商事株式会社")
    knowledge.add_document(rt, command_line(other.id), DocumentIn("備品管理規程.md",
                           "第1条　備品は総務部が管理する。".encode()))
    assert hits(rt, other, "備品の管理")
    theirs = stamp_dir(rt, other)
    shutil.rmtree(theirs)
    shutil.copytree(stamp_dir(rt, tenant), theirs)
    damaged = kb_index.counts["damaged"]
    assert hits(restarted(rt), other, QUESTION) == []
    assert kb_index.counts["damaged"] == damaged + 1


def test_unwritable_index_directory_still_serves(rt, tenant, company, tmp_path, caplog):
    """GIVEN an index directory that cannot be created WHEN a search runs THEN it is
    answered from an index built in memory and the failure is logged."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    broken = Runtime(rt.settings.model_copy(update={"search_index_dir": blocker / "x"}), rt.db)
    kb_index._indexes.clear()
    assert hits(broken, tenant)
    assert "not persisted" in caplog.text


CHILD = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from ushiro import knowledge
    from ushiro.core.runtime import Runtime
    from ushiro.core.settings import Settings
    from ushiro.identity import command_line
    from ushiro.knowledge.retrieval import index as kb_index
    url, data, tenant, go = sys.argv[1:5]
    rt = Runtime.from_settings(Settings(data_dir=data, database_url=url, secret_key="k"))
    while not Path(go).exists():
        time.sleep(0.005)
    hits = knowledge.search(rt, command_line(int(tenant)), "有給休暇は何日", k=5)
    print(json.dumps({"counts": dict(kb_index.counts), "hits": [h.passage_id for h in hits]}))
""")


def test_two_processes_rebuilding_at_once_build_once(db_url_factory, tmp_path, texts):
    """GIVEN a committed knowledge base without a saved index
    WHEN two processes search it at the same moment THEN one builds and saves, the other
    waits for it and loads what it wrote: one build in all, the same hits."""
    url = db_url_factory.new_url()
    settings = Settings(data_dir=tmp_path / "data", database_url=url, secret_key="k",
                        jobs_inline=True, worker_in_process=False)
    rt = Runtime(settings, Database(url, pool_size=2))
    tenant = knowledge_tenant(rt, texts)
    go = tmp_path / "go"
    children = [subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(tmp_path / "data"), str(tenant), str(go)],
        stdout=subprocess.PIPE, text=True) for _ in range(2)]
    go.write_text("")
    results = [json.loads(child.communicate(timeout=120)[0]) for child in children]
    rt.db.dispose()
    assert sum(r["counts"].get("built", 0) for r in results) == 1
    assert sum(r["counts"].get("loaded", 0) for r in results) == 1
    assert results[0]["hits"] == results[1]["hits"] and results[0]["hits"]


def knowledge_tenant(rt: Runtime, texts: dict[str, str]) -> int:
    from ushiro.audit import SYSTEM
    from ushiro.identity import service as identity_service

    tenant = identity_service.create_tenant(rt.db, SYSTEM, "kasumi", "かすみ工業株式会社")
    knowledge.add_document(rt, command_line(tenant.id), DocumentIn(
        "就業規則.txt", texts["rules"].encode()))
    return tenant.id


def test_cache_evicts_least_recently_used_by_bytes() -> None:
    """GIVEN a cache sized by bytes WHEN entries exceed the budget THEN the least recently
    used go first, an entry larger than the budget alone is kept until the next, and a
    budget of 0 keeps nothing."""
    cache: IndexCache[bytes] = IndexCache(size=len)
    builds: list[str] = []

    def build(name: str, size: int) -> Callable[[], bytes]:
        return lambda: builds.append(name) or b"x" * size  # type: ignore[func-returns-value]

    cache.get(("db", 1), "s", build("a", 40), budget=100)
    cache.get(("db", 2), "s", build("b", 40), budget=100)
    cache.get(("db", 1), "s", build("a2", 40), budget=100)  # cached: a is now the newest
    cache.get(("db", 3), "s", build("c", 40), budget=100)  # 120 > 100: b goes
    assert cache.bytes == 80 and len(cache) == 2
    cache.get(("db", 1), "s", build("a3", 40), budget=100)
    cache.get(("db", 2), "s", build("b2", 40), budget=100)
    assert builds == ["a", "b", "c", "b2"]
    cache.get(("db", 4), "s", build("huge", 500), budget=100)
    assert len(cache) == 1 and cache.bytes == 500
    cache.get(("db", 5), "s", build("none", 10), budget=0)
    cache.get(("db", 5), "s", build("none2", 10), budget=0)
    assert builds[-2:] == ["none", "none2"] and len(cache) == 0 and cache.bytes == 0


def test_search_cache_budget_is_spent_in_bytes(rt, tenant, make_tenant, company, texts):
    """GIVEN a budget of 0 MB WHEN two tenants alternate THEN nothing is kept: each search
    loads its index from disk again, and none rebuilds; with the default budget both stay
    cached, their sizes counted in bytes."""
    other = make_tenant("kaede", "かえで物産株式会社")
    knowledge.add_document(rt, command_line(other.id), DocumentIn("旅費規程.md", texts["travel"].encode()))
    hits(rt, tenant), hits(rt, other)  # both built and saved
    none = Runtime(rt.settings.model_copy(update={"search_cache_mb": 0}), rt.db)
    kb_index._indexes.clear()
    built, loaded = kb_index.counts["built"], kb_index.counts["loaded"]
    for _ in range(3):
        hits(none, tenant), hits(none, other)
    assert kb_index.counts["built"] == built and kb_index.counts["loaded"] == loaded + 6
    assert len(kb_index._indexes) == 0 and kb_index._indexes.bytes == 0
    for _ in range(3):
        hits(rt, tenant), hits(rt, other)
    assert kb_index.counts["loaded"] == loaded + 8 and len(kb_index._indexes) == 2
    assert 0 < kb_index._indexes.bytes <= rt.settings.search_cache_mb * 2**20


def test_an_empty_knowledge_base_is_persisted_and_loaded(rt, tenant):
    """GIVEN a tenant without documents WHEN it searches, and searches again after a
    restart THEN both find nothing, and the second loads the saved (empty) index."""
    assert hits(rt, tenant) == []
    built, loaded = kb_index.counts["built"], kb_index.counts["loaded"]
    assert hits(restarted(rt), tenant) == []
    assert kb_index.counts["built"] == built and kb_index.counts["loaded"] == loaded + 1


def test_an_index_dropped_by_the_cache_is_freed(rt, tenant, company):
    """GIVEN an index cached and frozen out of the collector's way WHEN the cache drops it
    THEN its memory is given back (nothing of it is kept alive by a reference cycle)."""
    import gc
    import weakref

    kb_index._indexes.clear()
    index = weakref.ref(kb_index.current_index(rt, tenant.id))
    words = weakref.ref(kb_index.current_index(rt, tenant.id).lexical.words)
    assert index() is not None
    kb_index._indexes.clear()
    assert gc.isenabled()
    assert index() is None and words() is None


def test_an_index_that_cannot_be_saved_is_built_once_and_served(rt, tenant, company, caplog):
    """GIVEN something in the way of the directory an index is saved to WHEN a search
    builds the index THEN it is built once, served, and the failure logged."""
    from ushiro.knowledge import repository

    with rt.db.reading() as session:
        stamp = repository.seeded_stamp(session, tenant.id)
    assert stamp
    where = persist.place(rt.settings.index_dir, rt.db.url, tenant.id, "bm25")
    where.root.mkdir(parents=True)
    where.directory(stamp).write_text("not a directory")
    kb_index._indexes.clear()
    built = kb_index.counts["built"]
    assert hits(rt, tenant)
    assert kb_index.counts["built"] == built + 1
    assert "not persisted" in caplog.text


def test_an_index_saved_with_other_parts_is_rebuilt(rt, tenant, company):
    """GIVEN an index saved by a version that had other parts (one fewer) WHEN a restarted
    process searches THEN it is rebuilt, not loaded without the missing part."""
    first = hits(rt, tenant)
    folder = stamp_dir(rt, tenant)
    manifest = json.loads((folder / persist.MANIFEST).read_text())
    del manifest["components"]["questions"]
    (folder / persist.MANIFEST).write_text(json.dumps(manifest))
    built = kb_index.counts["built"]
    assert hits(restarted(rt), tenant) == first
    assert kb_index.counts["built"] == built + 1


def test_warm_saves_the_index_so_the_first_search_after_a_restart_loads_it(rt, tenant,
                                                                          company):
    """GIVEN a tenant whose index was never built (an upgrade, a restored dump)
    WHEN the operator runs the warm use case and a new process then searches
    THEN the search loads the saved index and builds nothing."""
    kb_index._indexes.clear()
    assert knowledge.retrieval.warm(rt, command_line(tenant.id)) > 0
    built = kb_index.counts["built"]
    after = restarted(rt)
    assert hits(after, tenant)
    assert kb_index.counts["built"] == built


def test_warm_is_for_administrators(rt, tenant, company, make_user):
    """GIVEN an operator WHEN they ask to warm the index THEN it is refused."""
    from ushiro.core.errors import UshiroError
    from ushiro.identity import Role, User, principal_for

    user = make_user(Role.OPERATOR)
    with rt.db.reading() as session:
        operator = principal_for(session, session.get(User, user.id), session.get(Tenant, tenant.id))
    with pytest.raises(UshiroError):
        knowledge.retrieval.warm(rt, operator)
