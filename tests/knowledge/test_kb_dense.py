"""Dense retrieval from a local model directory, fused with BM25 (USHIRO_EMBEDDING_MODEL_DIR).

Everything runs the real sentence-transformers on a tiny model built by the test session
(tiny_embedding_model.py): nothing is downloaded, and the hub's offline mode is checked.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import create_engine, func, select, text
from tiny_embedding_model import PROMPTS, build, corpus_texts

from ushiro import knowledge
from ushiro.audit import SYSTEM
from ushiro.core.db import Database
from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.runtime import Runtime
from ushiro.core.settings import Settings
from ushiro.identity import Principal, Role, Tenant, User, command_line, principal_for
from ushiro.identity import service as identity_service
from ushiro.knowledge import DocumentIn, SearchHit, repository
from ushiro.knowledge.models import PassageVector
from ushiro.knowledge.retrieval import index as kb_index
from ushiro.knowledge.retrieval.backend import BM25Backend, IndexedPassage
from ushiro.knowledge.retrieval.dense import CANDIDATES, RRF_K
from ushiro.knowledge.retrieval.embeddings import SentenceTransformerEmbedder, embedder_for
from ushiro.knowledge.retrieval.fusion import LexicalSearch
from ushiro.knowledge.retrieval.ngrams import NgramBackend, NgramPassage
from ushiro.knowledge.retrieval.query import MAX_K
from ushiro.knowledge.retrieval.tokenize import index_text
from ushiro.migrations import upgrade

PG_BASE = os.environ.get("USHIRO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NO_WORD_MATCH = "ぱぴぷぺぽ"  # shares no word with the documents: BM25 finds nothing

# The model's vocabulary: the documents and the questions of these tests.
QUESTIONS = ["有給は何日もらえますか", "出張の日当はいくら", "ボーナスはいつ出ますか",
             "パソコンが壊れた", "経費の精算期限", NO_WORD_MATCH]
SECRET = "経理部門の決算手順\n\n## 月次決算\n月次決算は翌月5営業日までに締める。仕訳の承認は経理部長が行う。"


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("model") / "tiny-ruri",
                 [*corpus_texts(), SECRET, *QUESTIONS])


@pytest.fixture
def dense_rt(rt: Runtime, model_dir: Path) -> Runtime:
    """The same database as ``rt``, with dense retrieval configured."""
    return Runtime(rt.settings.model_copy(update={"embedding_model_dir": model_dir}), rt.db)


def add_company(rt: Runtime, tenant_id: int, texts: dict[str, str]) -> None:
    for filename, key in (("就業規則.txt", "rules"), ("旅費規程.md", "travel"),
                          ("社内FAQ.md", "faq")):
        knowledge.add_document(rt, command_line(tenant_id), DocumentIn(filename, texts[key].encode()))


def as_principal(rt: Runtime, user: User, tenant: Tenant) -> Principal:
    with rt.db.reading() as session:
        return principal_for(session, session.get(User, user.id), session.get(Tenant, tenant.id))


def vector_count(rt: Runtime, tenant_id: int) -> int:
    with rt.db.reading() as session:
        stmt = select(func.count()).select_from(PassageVector).where(
            PassageVector.tenant_id == tenant_id)
        return int(session.scalar(stmt) or 0)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Any attempt to open a network connection fails the test (and is recorded)."""
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise AssertionError(f"network connection attempted: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


# --- loading ------------------------------------------------------------------------------


def test_configured_directory_loads_offline_with_the_models_prompts(
        model_dir: Path, no_network: list[Any]) -> None:
    """GIVEN a sentence-transformers directory copied onto the machine
    WHEN the embedder loads it and embeds
    THEN the hub is in offline mode, no connection is attempted, the vectors are normalised
    float32 rows, and queries/passages carry the prompts of the model's own config."""
    from sentence_transformers import SentenceTransformer

    embedder = SentenceTransformerEmbedder(model_dir)
    import huggingface_hub.constants

    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert huggingface_hub.constants.is_offline_mode()
    documents = embedder.embed_documents(["第4条(日当)\n出張1日につき", "旅費規程"])
    query = embedder.embed_query("出張の日当はいくら")
    assert documents.dtype == np.float32 and documents.shape == (2, embedder.dimension)
    assert query.dtype == np.float32 and query.shape == (embedder.dimension,)
    assert np.allclose(np.linalg.norm(documents, axis=1), 1, atol=1e-5)
    assert embedder.embed_documents([]).shape == (0, embedder.dimension)

    plain = SentenceTransformer(str(model_dir), local_files_only=True)
    expected = plain.encode([PROMPTS["query"] + "出張の日当はいくら"], normalize_embeddings=True)
    assert np.allclose(query, expected[0], atol=1e-5)
    assert no_network == []


def test_name_is_stable_and_follows_what_changes_the_vectors(model_dir: Path,
                                                             tmp_path: Path) -> None:
    """The name keys stored vectors: the same files anywhere give the same name; another
    document prefix or other weights give another."""
    import shutil

    first = SentenceTransformerEmbedder(model_dir)
    copy = shutil.copytree(model_dir, tmp_path / model_dir.name)
    assert SentenceTransformerEmbedder(copy).name == first.name
    assert len(first.name) <= 64
    prefixed = SentenceTransformerEmbedder(model_dir, document_prefix="passage: ")
    assert prefixed.name != first.name
    assert not np.allclose(prefixed.embed_documents(["日当"]), first.embed_documents(["日当"]))
    other = build(tmp_path / "other", ["日当"], seed=8)
    assert SentenceTransformerEmbedder(other).name != first.name


def _layouts(root: Path, model_dir: Path) -> dict[str, Path]:
    import shutil

    (root / "a-file").write_text("x")
    (root / "empty").mkdir()
    cache = root / "models--cl-nagoya--ruri-v3-30m"
    (cache / "snapshots" / "0123abc").mkdir(parents=True)
    no_weights = shutil.copytree(model_dir, root / "no-weights")
    (no_weights / "model.safetensors").unlink()
    return {"missing": root / "nowhere", "file": root / "a-file", "empty": root / "empty",
            "hub cache": cache, "no weights": no_weights}


@pytest.mark.parametrize(("layout", "says"), [
    ("missing", "が見つかりません"),
    ("file", "はディレクトリではありません"),
    ("empty", "modules.json がありません"),
    ("hub cache", "snapshots"),
    ("no weights", "重みファイル"),
])
def test_unusable_directory_is_a_japanese_error_naming_setting_and_path(
        tmp_path: Path, model_dir: Path, no_network: list[Any], layout: str,
        says: str) -> None:
    path = _layouts(tmp_path, model_dir)[layout]
    settings = Settings(data_dir=tmp_path, embedding_model_dir=path)
    with pytest.raises(UshiroError) as raised:
        embedder_for(settings)
    error = raised.value
    assert error.code == ErrorCode.EMBEDDING_MODEL_UNAVAILABLE
    assert error.field == "USHIRO_EMBEDDING_MODEL_DIR"
    message = str(error)
    assert "USHIRO_EMBEDDING_MODEL_DIR" in message and str(path) in message and says in message
    assert "huggingface-cli download" in message  # what is expected, and how to get it
    assert no_network == []


def test_missing_directory_never_loads_the_hub_library(tmp_path: Path) -> None:
    """A wrong path is refused before sentence-transformers (and the hub client) is even
    imported, so it cannot turn into a download: checked in a fresh interpreter."""
    script = (
        "import json, sys\n"
        "from ushiro.core.settings import Settings\n"
        "from ushiro.knowledge.retrieval.embeddings import embedder_for\n"
        "try:\n"
        f"    embedder_for(Settings(embedding_model_dir={str(tmp_path / 'ruri')!r}))\n"
        "except Exception as error:\n"
        "    print(json.dumps({'code': str(error.code), 'message': str(error)}))\n"
        "print(json.dumps(sorted(m for m in ('huggingface_hub', 'sentence_transformers', "
        "'transformers', 'torch') if m in sys.modules)))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("USHIRO_")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120, check=True)
    error, imported = map(json.loads, done.stdout.splitlines())
    assert error["code"] == "embedding_model_unavailable"
    assert str(tmp_path / "ruri") in error["message"]
    assert imported == []


def test_search_with_a_wrong_directory_reports_the_setting(rt: Runtime, tenant: Tenant,
                                                            texts, tmp_path: Path) -> None:
    add_company(rt, tenant.id, texts)
    broken = Runtime(rt.settings.model_copy(
        update={"embedding_model_dir": tmp_path / "nowhere"}), rt.db)
    with pytest.raises(UshiroError) as raised:
        knowledge.search(broken, command_line(tenant.id), "有給は何日もらえますか")
    assert raised.value.code == ErrorCode.EMBEDDING_MODEL_UNAVAILABLE


def test_unset_or_blank_setting_means_bm25_only(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("USHIRO_EMBEDDING_MODEL_DIR", "")
    assert Settings(data_dir=tmp_path).embedding_model_dir is None
    assert embedder_for(Settings(data_dir=tmp_path)) is None
    monkeypatch.delenv("USHIRO_EMBEDDING_MODEL_DIR")
    assert embedder_for(Settings(data_dir=tmp_path)) is None


# --- search -------------------------------------------------------------------------------


def bm25_reference(rt: Runtime, tenant_id: int, query: str, k: int) -> list[SearchHit]:
    """What search without a model returns, computed here from the stored passages: word
    BM25 over their tokens fused with trigram BM25 over their label and text, shown as the
    service shows a hit."""
    with rt.db.reading() as session:
        tokens = list(repository.searchable_passages(session, tenant_id))
        shown = {row.id: row for row in repository.shown_passages(session, tenant_id)}
        documents = {d.id: (d.title, v.version)
                     for d, v in repository.current_documents(session, tenant_id)}
    backend = LexicalSearch(
        BM25Backend([IndexedPassage(pid, did, words.split()) for pid, did, words in tokens]),
        NgramBackend([NgramPassage(pid, did, index_text(shown[pid].section, shown[pid].text))
                      for pid, did, _ in tokens]))
    out = []
    analyzer = knowledge.analyzer(rt, command_line(tenant_id))
    for hit in backend.search(analyzer.query_tokens(query), query, k=k):
        row = shown[hit.passage_id]
        title, version = documents[row.document_id]
        out.append(SearchHit(row.id, title, version, row.section, row.context, row.page,
                             hit.score, row.text))
    return out


def test_unset_setting_gives_exactly_the_bm25_ranking(rt: Runtime, tenant: Tenant,
                                                      texts) -> None:
    """GIVEN no model configured
    THEN search returns exactly BM25's hits (ids, order, float scores, no fused fields), and
    no vector is computed or stored."""
    assert rt.settings.embedding_model_dir is None
    add_company(rt, tenant.id, texts)
    for query in QUESTIONS:
        hits = knowledge.search(rt, command_line(tenant.id), query, k=10)
        assert hits == bm25_reference(rt, tenant.id, query, 10)
        assert all(hit.lexical_score is None and hit.bm25 == hit.score for hit in hits)
    assert vector_count(rt, tenant.id) == 0


def test_fused_ranking_holds_the_bm25_hits_and_dense_only_candidates(
        rt: Runtime, dense_rt: Runtime, tenant: Tenant, texts) -> None:
    """GIVEN a configured model
    WHEN a question is searched
    THEN every BM25 hit is in the fused ranking with its BM25 score, passages BM25 cannot
    find come in from the dense ranking, and each score is Σ 1/(60 + rank) over the two
    rankings, best first, ties by passage id."""
    add_company(rt, tenant.id, texts)
    query = "出張の日当はいくら"
    lexical = bm25_reference(rt, tenant.id, query, CANDIDATES)
    fused = knowledge.search(dense_rt, command_line(tenant.id), query, k=MAX_K)
    by_id = {hit.passage_id: hit for hit in fused}
    assert lexical and {hit.passage_id for hit in lexical} <= set(by_id)
    assert all(by_id[hit.passage_id].lexical_score == hit.score for hit in lexical)
    dense_only = [hit for hit in fused if hit.lexical_score == 0.0]
    assert dense_only and all(hit.passage_id not in {h.passage_id for h in lexical}
                              for hit in dense_only)

    lexical_rank = {hit.passage_id: rank for rank, hit in enumerate(lexical, start=1)}
    dense_order = sorted((h for h in fused if h.dense_score),
                         key=lambda h: (-(h.dense_score or 0), h.passage_id))
    dense_rank = {hit.passage_id: rank for rank, hit in enumerate(dense_order, start=1)}
    for hit in fused:
        expected = sum(1 / (RRF_K + ranks[hit.passage_id])
                       for ranks in (lexical_rank, dense_rank) if hit.passage_id in ranks)
        assert hit.score == pytest.approx(expected, rel=1e-12)
    assert [(-h.score, h.passage_id) for h in fused] == sorted((-h.score, h.passage_id)
                                                               for h in fused)


def test_dense_ranking_answers_where_bm25_finds_nothing(rt: Runtime, dense_rt: Runtime,
                                                        tenant: Tenant, texts) -> None:
    add_company(rt, tenant.id, texts)
    assert knowledge.search(rt, command_line(tenant.id), NO_WORD_MATCH, k=5) == []
    hits = knowledge.search(dense_rt, command_line(tenant.id), NO_WORD_MATCH, k=5)
    assert len(hits) == 5 and all(hit.lexical_score == 0.0 for hit in hits)
    assert [hit.score for hit in hits] == [1 / (RRF_K + rank) for rank in range(1, 6)]


def test_restricted_documents_stay_out_of_dense_results(rt: Runtime, dense_rt: Runtime,
                                                        tenant: Tenant, texts,
                                                        make_user: Callable[..., User]) -> None:
    """GIVEN a document only 経理 may search and one only approvers may search
    WHEN others search, also with a question that only the dense ranking answers
    THEN neither document takes a place; members of 経理 and approvers find theirs."""
    add_company(rt, tenant.id, texts)
    knowledge.add_document(rt, command_line(tenant.id), DocumentIn(
        "決算手順.md", SECRET.encode(), departments=["経理"]))
    knowledge.add_document(rt, command_line(tenant.id), DocumentIn(
        "役員規程.md", "# 役員規程\n役員の出張日当は別に定める。".encode(), min_role=Role.APPROVER))
    people = {"hr": make_user(Role.OPERATOR, departments=["人事・労務"]),
              "accounting": make_user(Role.OPERATOR, departments=["経理"]),
              "approver": make_user(Role.APPROVER)}
    principals = {key: as_principal(rt, user, tenant) for key, user in people.items()}
    everything = knowledge.search(dense_rt, command_line(tenant.id), NO_WORD_MATCH, k=100)
    assert {"決算手順", "役員規程"} <= {hit.document for hit in everything}
    for question in (NO_WORD_MATCH, "月次決算の締め", "出張の日当"):
        seen = {key: {hit.document for hit in knowledge.search(
            dense_rt, principal, question, k=100)}
            for key, principal in principals.items()}
        assert "決算手順" not in seen["hr"] | seen["approver"]
        assert "役員規程" not in seen["hr"] | seen["accounting"]
        assert "決算手順" in seen["accounting"] and "役員規程" in seen["approver"]


def test_tenants_never_see_each_others_passages_or_vectors(
        rt: Runtime, dense_rt: Runtime, tenant: Tenant, texts,
        make_tenant: Callable[..., Tenant]) -> None:
    other = make_tenant("momiji", "もみじ商事株式会社")
    add_company(rt, tenant.id, texts)
    knowledge.add_document(rt, command_line(other.id), DocumentIn("決算手順.md", SECRET.encode()))
    mine = knowledge.search(dense_rt, command_line(tenant.id), "月次決算の締め", k=100)
    theirs = knowledge.search(dense_rt, command_line(other.id), "出張の日当はいくら", k=100)
    assert "決算手順" not in {hit.document for hit in mine}
    assert {hit.document for hit in theirs} == {"決算手順"}
    with rt.db.reading() as session:
        own_passages = {row.id for row in repository.shown_passages(session, other.id)}
        stored = set(session.scalars(select(PassageVector.passage_id)
                                     .where(PassageVector.tenant_id == other.id)))
        mine_stored = set(session.scalars(select(PassageVector.passage_id)
                                          .where(PassageVector.tenant_id == tenant.id)))
        mine_passages = {row.id for row in repository.shown_passages(session, tenant.id)}
    assert stored == own_passages and mine_stored == mine_passages
    assert not own_passages & mine_passages


def test_unchanged_passages_are_not_embedded_again(rt: Runtime, dense_rt: Runtime,
                                                   tenant: Tenant, texts) -> None:
    """GIVEN an index built with the model
    WHEN a document is added, synonyms change, or another process builds the index
    THEN only passages without a stored vector are embedded."""
    embedder = embedder_for(dense_rt.settings)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    add_company(rt, tenant.id, texts)
    before = embedder.documents_embedded
    knowledge.search(dense_rt, command_line(tenant.id), "有給は何日もらえますか")
    passages = vector_count(rt, tenant.id)
    assert passages > 20 and embedder.documents_embedded - before == passages

    added = knowledge.add_document(rt, command_line(tenant.id), DocumentIn(
        "決算手順.md", SECRET.encode()))
    before = embedder.documents_embedded
    assert knowledge.search(dense_rt, command_line(tenant.id), "月次決算の締め")[0].document == "決算手順"
    assert embedder.documents_embedded - before == added.passages

    knowledge.edit_synonyms(rt, command_line(tenant.id), "賞与", ["ボーナス", "一時金"])
    kb_index._indexes.clear()  # as in a process started afterwards
    before = embedder.documents_embedded
    knowledge.search(dense_rt, command_line(tenant.id), "一時金はいつ")
    assert embedder.documents_embedded == before


def test_offline_drafter_judges_fused_hits_by_their_bm25_score(rt: Runtime, dense_rt: Runtime,
                                                                tenant: Tenant, texts) -> None:
    """GIVEN dense retrieval on, where every fused score is below 0.1 (1/61 + 1/61 at best)
    WHEN the offline drafter answers from the fused hits
    THEN it applies its BM25 thresholds to the BM25 score and drafts as without the model:
    the only passage with the question's words (第17条) is fused first and quoted."""
    from ushiro.knowledge.drafting.drafters import TenantContext
    from ushiro.knowledge.drafting.offline import MIN_TOP_SCORE, OfflineDrafter

    add_company(rt, tenant.id, texts)
    question = "ボーナスはいつ出ますか"
    context = TenantContext(analyzer=knowledge.analyzer(rt, command_line(tenant.id)))
    hits = knowledge.search(dense_rt, command_line(tenant.id), question, k=5)
    assert all(hit.score < MIN_TOP_SCORE for hit in hits) and hits[0].bm25 > MIN_TOP_SCORE
    fused = OfflineDrafter().draft(question, hits, context)
    plain = OfflineDrafter().draft(question, knowledge.search(rt, command_line(tenant.id), question, k=5),
                                   context)
    assert not fused.abstained and [c.section for c in fused.citations] == ["第17条(賞与)"]
    assert fused.answer == plain.answer


# --- databases and the command line ---------------------------------------------------------


@pytest.fixture
def both_databases(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A fresh SQLite file and a fresh PostgreSQL schema, migrated (whatever the session's
    backend is: the point is to compare the two)."""
    schema = f"ushiro_t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(PG_BASE)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:  # a machine without the server: CI always has one
        engine.dispose()
        pytest.skip(f"PostgreSQL unreachable at {PG_BASE}: {error}")
    urls = {"sqlite": f"sqlite:///{tmp_path / 'dense.db'}",
            "postgres": f"{PG_BASE}?options=-csearch_path%3D{schema}"}
    try:
        for url in urls.values():
            upgrade(url)
        yield urls
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def fused_rankings(url: str, data_dir: Path, model_dir: Path,
                   texts: dict[str, str]) -> list[list[tuple[Any, ...]]]:
    settings = Settings(data_dir=data_dir, database_url=url, secret_key="dense",
                        jobs_inline=True, worker_in_process=False, embedding_model_dir=model_dir)
    db = Database(url, pool_size=2)
    try:
        rt = Runtime(settings, db)
        tenant = identity_service.create_tenant(db, SYSTEM, "sakura", "さくら精機株式会社")
        add_company(rt, tenant.id, texts)
        knowledge.add_document(rt, command_line(tenant.id), DocumentIn("決算手順.md", SECRET.encode()))
        return [[(h.passage_id, h.document, h.section, h.score, h.lexical_score, h.dense_score)
                 for h in found]
                for _, found in knowledge.search_many(rt, command_line(tenant.id), QUESTIONS, k=20)]
    finally:
        db.dispose()


def test_fused_results_are_identical_on_sqlite_and_postgresql(
        both_databases: dict[str, str], model_dir: Path, texts, tmp_path: Path) -> None:
    """The same documents and questions give the same passages, order and float scores."""
    results = {name: fused_rankings(url, tmp_path / name, model_dir, texts)
               for name, url in both_databases.items()}
    assert all(len(ranking) == 20 for ranking in results["sqlite"])
    assert results["sqlite"] == results["postgres"]


def test_command_line_search_with_a_model(kb_cli, documents, model_dir: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`ushiro kb search` keeps its JSON contract with dense retrieval on, and a wrong
    directory is reported in Japanese with exit code 2, naming the setting."""
    kb_cli("init")
    kb_cli("kb", "add", *map(str, documents.values()))
    monkeypatch.setenv("USHIRO_EMBEDDING_MODEL_DIR", str(model_dir))
    result = kb_cli("kb", "search", "有給は何日もらえますか", "-k", "3", "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)["hits"]
    assert len(hits) == 3
    assert all(set(hit) == {"document", "section", "score", "text", "version", "kind"} for hit in hits)
    monkeypatch.setenv("USHIRO_EMBEDDING_MODEL_DIR", str(model_dir / "nowhere"))
    failed = kb_cli("kb", "search", "有給は何日もらえますか", "--json")
    assert failed.exit_code == 2
    said = failed.output.replace("\n", "")  # the console wraps long lines
    assert "USHIRO_EMBEDDING_MODEL_DIR" in said and "見つかりません" in said


def test_backup_and_restore_keep_the_vectors(kb_cli, documents, model_dir: Path, tmp_path: Path,
                                            db_url_factory, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    """Stored vectors travel with a backup: the restored installation searches with the
    model without embedding a single passage again, and ranks the same."""
    from typer.testing import CliRunner

    from ushiro.cli import app

    monkeypatch.setenv("USHIRO_EMBEDDING_MODEL_DIR", str(model_dir))
    embedder = embedder_for(Settings(embedding_model_dir=model_dir))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    kb_cli("init")
    kb_cli("kb", "add", *map(str, documents.values()))
    before = kb_cli("kb", "search", "有給は何日もらえますか", "-k", "5", "--json").stdout
    assert kb_cli("backup", str(tmp_path / "backup")).exit_code == 0

    url = db_url_factory.new_url(migrate=False)
    env = {"USHIRO_DATA_DIR": str(tmp_path / "restored"), "USHIRO_DATABASE_URL": url,
           "USHIRO_SECRET_KEY": "kb-test-secret"}
    runner = CliRunner()
    assert runner.invoke(app, ["restore", str(tmp_path / "backup")], env=env).exit_code == 0
    embedded = embedder.documents_embedded
    after = runner.invoke(app, ["kb", "search", "有給は何日もらえますか", "-k", "5", "--json"],
                          env=env)
    assert json.loads(after.stdout) == json.loads(before)
    assert embedder.documents_embedded == embedded


def test_embed_command_stores_the_vectors_before_the_first_search(
        kb_cli, documents, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN documents added before a model was configured
    WHEN the operator runs `ushiro kb embed` after setting the model directory
    THEN every searchable passage is embedded and stored once: running it again embeds
    nothing, and a search afterwards embeds nothing either; without a model the command
    says in Japanese which setting is missing."""
    kb_cli("init")
    kb_cli("kb", "add", *map(str, documents.values()))
    missing = kb_cli("kb", "embed")
    assert missing.exit_code == 2
    assert "USHIRO_EMBEDDING_MODEL_DIR" in missing.output.replace("\n", "")
    monkeypatch.setenv("USHIRO_EMBEDDING_MODEL_DIR", str(model_dir))
    first = kb_cli("kb", "embed", "--json")
    assert first.exit_code == 0, first.output
    counts = json.loads(first.stdout)
    assert counts["passages"] > 0 and counts["embedded"] == counts["passages"]
    again = kb_cli("kb", "embed", "--json")
    assert json.loads(again.stdout) == {"passages": counts["passages"], "embedded": 0}
    embedder = embedder_for(Settings(embedding_model_dir=model_dir))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    before = embedder.documents_embedded
    assert kb_cli("kb", "search", "有給は何日もらえますか", "--json").exit_code == 0
    assert embedder.documents_embedded == before
