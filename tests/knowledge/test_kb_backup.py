"""Knowledge survives `ushiro backup` and `ushiro restore` (versions, dates, synonyms)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ushiro.cli import app


def test_backup_and_restore_keep_documents_and_search(kb_cli, documents, tmp_path,
                                                      db_url_factory) -> None:
    kb_cli("init")
    kb_cli("kb", "add", str(documents["rules"]), "--effective-date", "2024-04-01")
    kb_cli("kb", "synonym-add", "在宅勤務", "ホームオフィス")
    before = kb_cli("kb", "search", "有給", "-k", "3", "--json").stdout
    assert kb_cli("backup", str(tmp_path / "backup")).exit_code == 0

    env = {"USHIRO_DATA_DIR": str(tmp_path / "restored"),
           "USHIRO_DATABASE_URL": db_url_factory.new_url(migrate=False),
           "USHIRO_SECRET_KEY": "kb-test-secret"}
    runner = CliRunner()
    restored = runner.invoke(app, ["restore", str(tmp_path / "backup")], env=env)
    assert restored.exit_code == 0, restored.output
    after = runner.invoke(app, ["kb", "search", "有給", "-k", "3", "--json"], env=env)
    assert json.loads(after.stdout) == json.loads(before)
    listing = runner.invoke(app, ["kb", "list", "--json"], env=env)
    assert json.loads(listing.stdout)["documents"][0]["effective_date"] == "2024-04-01"
    table = runner.invoke(app, ["kb", "synonyms", "--json"], env=env)
    assert "ホームオフィス" in json.loads(table.stdout)["synonyms"]["在宅勤務"]


def test_backup_leaves_out_the_search_indexes(kb_cli, documents, tmp_path) -> None:
    """GIVEN a search index persisted in the data directory (derived data, rebuilt from the
    passages whenever missing) WHEN the instance is backed up THEN no file of it is in the
    backup, and the backup verifies."""
    kb_cli("init")
    kb_cli("kb", "add", str(documents["rules"]))
    assert kb_cli("kb", "search", "有給", "-k", "3").exit_code == 0
    indexes = tmp_path / "data" / "indexes"
    assert any(p.suffix == ".npy" for p in indexes.rglob("*"))
    assert kb_cli("backup", str(tmp_path / "backup")).exit_code == 0
    copied = [p.relative_to(tmp_path / "backup") for p in (tmp_path / "backup").rglob("*")]
    assert not [p for p in copied if "indexes" in p.parts or p.suffix == ".npy"]
    assert kb_cli("verify-backup", str(tmp_path / "backup")).exit_code == 0
