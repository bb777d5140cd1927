"""`ushiro kb add|search|list|synonym-*`: the stable command-line contracts (DESIGN §5)."""

from __future__ import annotations

import json
from pathlib import Path

HIT_KEYS = {"document", "section", "score", "text", "version", "kind"}


def test_add_then_search_json_shape(kb_cli, documents) -> None:
    """GIVEN three documents added from the command line
    WHEN `kb search QUERY --json` runs
    THEN stdout is exactly one object {"hits": [{document, section, score, text, version}]}."""
    assert kb_cli("init", "--tenant", "sakura").exit_code == 0
    added = kb_cli("kb", "add", *map(str, documents.values()), "--json")
    assert added.exit_code == 0, added.output
    rows = json.loads(added.stdout)["documents"]
    assert [(r["document"], r["version"], r["status"]) for r in rows] == [
        ("就業規則", 1, "added"), ("旅費規程", 1, "added"), ("社内FAQ", 1, "added")]
    assert all(r["passages"] > 0 for r in rows)

    result = kb_cli("kb", "search", "有給は何日もらえますか", "-k", "3", "--json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    body = json.loads(lines[0])
    assert set(body) == {"hits"} and 1 <= len(body["hits"]) <= 3
    for hit in body["hits"]:
        assert set(hit) == HIT_KEYS
        assert isinstance(hit["score"], float) and isinstance(hit["version"], int)
        assert isinstance(hit["text"], str) and hit["text"]
    assert (body["hits"][0]["document"], body["hits"][0]["section"]) == (
        "就業規則", "第12条(年次有給休暇)")
    scores = [hit["score"] for hit in body["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_queries_file_gives_json_lines(kb_cli, documents, tmp_path: Path) -> None:
    kb_cli("init")
    kb_cli("kb", "add", *map(str, documents.values()))
    queries = tmp_path / "q.txt"
    queries.write_bytes("ボーナスはいつ\n\n出張の日当\r\nｘｙｚｚｙ\n".encode("cp932"))
    result = kb_cli("kb", "search", "--queries", str(queries), "-k", "2", "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["query"] for line in lines] == ["ボーナスはいつ", "出張の日当", "ｘｙｚｚｙ"]
    assert all(set(line) == {"query", "hits"} for line in lines)
    assert lines[0]["hits"][0]["section"] == "第17条(賞与)"
    assert lines[1]["hits"][0]["section"] == "第4条(日当)"
    assert all(set(hit) == HIT_KEYS for line in lines for hit in line["hits"])
    assert lines[2]["hits"] == []


def test_human_output_and_listing(kb_cli, documents) -> None:
    kb_cli("init")
    added = kb_cli("kb", "add", str(documents["travel"]), "--effective-date", "2025-04-01")
    assert added.exit_code == 0 and "旅費規程 第1版" in added.stdout
    search = kb_cli("kb", "search", "ホテル代")
    assert "第5条(宿泊費)" in search.stdout and "旅費規程 (第1版)" in search.stdout
    listing = json.loads(kb_cli("kb", "list", "--json").stdout)["documents"]
    assert [(d["document"], d["version"], d["effective_date"]) for d in listing] == [
        ("旅費規程", 1, "2025-04-01")]


def test_versions_and_restrictions_from_the_command_line(kb_cli, documents, tmp_path) -> None:
    kb_cli("init")
    kb_cli("kb", "add", str(documents["rules"]))
    revised = tmp_path / "v2" / "就業規則.txt"
    revised.parent.mkdir()
    revised.write_text(documents["rules"].read_text().replace("１０日の", "１５日の"))
    again = json.loads(kb_cli("kb", "add", str(revised), "--restrict-role", "operator",
                              "--restrict-department", "人事・労務", "--json").stdout)
    assert again["documents"][0]["version"] == 2
    hit = json.loads(kb_cli("kb", "search", "有給", "-k", "1", "--json").stdout)["hits"][0]
    assert hit["version"] == 2 and "１５日" in hit["text"]
    [doc] = json.loads(kb_cli("kb", "list", "--json").stdout)["documents"]
    assert (doc["restrict_role"], doc["restrict_departments"]) == ("operator", ["人事・労務"])


def test_bad_files_are_reported_and_good_ones_still_added(kb_cli, documents, tmp_path,
                                                          scanned_pdf) -> None:
    """One bad file among several: each bad one gets its Japanese error and code, the
    others are added, and the exit status says something failed."""
    kb_cli("init")
    broken = tmp_path / "壊れた.docx"
    broken.write_bytes(b"PK\x03\x04garbage")
    scan = tmp_path / "スキャン.pdf"
    scan.write_bytes(scanned_pdf)
    excel = tmp_path / "一覧.xlsx"
    excel.write_bytes(b"x")
    result = kb_cli("kb", "add", str(broken), str(documents["faq"]), str(scan), str(excel),
                    str(tmp_path / "ない.md"), "--json")
    assert result.exit_code == 1
    rows = json.loads(result.stdout)["documents"]
    assert [row.get("error", {}).get("code") for row in rows] == [
        "document_unreadable", None, "document_needs_ocr", "unsupported_format", "io_error"]
    assert "OCR が必要です" in rows[2]["error"]["message"]
    listing = json.loads(kb_cli("kb", "list", "--json").stdout)["documents"]
    assert [d["document"] for d in listing] == ["社内FAQ"]


def test_enormous_file_is_refused_without_reading_it(kb_cli, tmp_path, monkeypatch) -> None:
    kb_cli("init")
    monkeypatch.setenv("USHIRO_MAX_DOCUMENT_BYTES", "1000")
    big = tmp_path / "巨大.txt"
    big.write_text("第1条　本文。" * 500)
    result = kb_cli("kb", "add", str(big), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["documents"][0]["error"]["code"] == "document_too_large"


def test_usage_errors(kb_cli, tmp_path) -> None:
    kb_cli("init")
    neither = kb_cli("kb", "search")
    assert neither.exit_code == 2 and "--queries" in neither.output
    bad_date = kb_cli("kb", "add", str(tmp_path / "a.md"), "--effective-date", "2025/04/01")
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.output
    bad_k = kb_cli("kb", "search", "有給", "-k", "0")
    assert bad_k.exit_code == 2 and "validation_error" in bad_k.output


def test_synonym_commands(kb_cli, tmp_path) -> None:
    kb_cli("init")
    rule = tmp_path / "在宅勤務規程.md"
    rule.write_text("# 在宅勤務規程\n## 第3条（申請）\n在宅勤務をする者は前日までに申請する。")
    kb_cli("kb", "add", str(rule))
    assert json.loads(kb_cli("kb", "search", "ホームオフィス", "--json").stdout)["hits"] == []
    added = kb_cli("kb", "synonym-add", "在宅勤務", "ホームオフィス")
    assert added.exit_code == 0 and "1 件" in added.stdout
    hits = json.loads(kb_cli("kb", "search", "ホームオフィス", "--json").stdout)["hits"]
    assert hits[0]["section"] == "第3条(申請)"
    table = json.loads(kb_cli("kb", "synonyms", "--json").stdout)["synonyms"]
    assert "ホームオフィス" in table["在宅勤務"]
    removed = kb_cli("kb", "synonym-remove", "在宅勤務", "ホームオフィス")
    assert removed.exit_code == 0 and "1 件" in removed.stdout


def test_kb_warm_saves_every_tenants_index(kb_cli, documents) -> None:
    """GIVEN documents added on the command line WHEN `kb warm --all --json` runs THEN each
    tenant is listed with its passage count, and --tenant with --all is refused."""
    kb_cli("init")
    kb_cli("kb", "add", *map(str, documents.values()))
    result = kb_cli("kb", "warm", "--all", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout.splitlines()[-1])["tenants"]
    assert rows and rows[0]["passages"] > 0
    refused = kb_cli("kb", "warm", "--all", "--tenant", rows[0]["tenant"])
    assert refused.exit_code != 0
    assert "どちらか一方" in refused.output
