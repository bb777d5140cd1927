"""Migration 0009 makes every document stored before it a company rule."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from ushiro.migrations import config


def test_stored_documents_become_company_rules(db_url_factory) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a database at 0008 with a document
    WHEN it is migrated to head
    THEN the document's kind is "company" (what search assumed of every document before),
    and a document inserted without a kind gets the same default."""
    url = db_url_factory.new_url(migrate=False)
    command.upgrade(config(url), "0008")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO tenants (slug, name, created_at) "
                              "VALUES ('t', 'T', CURRENT_TIMESTAMP)"))
            conn.execute(text(
                "INSERT INTO kb_documents (tenant_id, name, title, current_version, created_at, "
                "updated_at) SELECT id, '就業規則', '就業規則', 1, CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP FROM tenants"))
        command.upgrade(config(url), "head")
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO kb_documents (tenant_id, name, title, current_version, created_at, "
                "updated_at) SELECT id, '賃金規程', '賃金規程', 1, CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP FROM tenants"))
            kinds = conn.execute(text("SELECT name, kind FROM kb_documents ORDER BY id")).all()
        command.downgrade(config(url), "0008")
    finally:
        engine.dispose()
    assert [tuple(row) for row in kinds] == [("就業規則", "company"), ("賃金規程", "company")]
