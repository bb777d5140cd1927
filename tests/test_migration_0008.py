"""Migration 0008 keeps the idempotency keys stored before it working."""

from __future__ import annotations

import hashlib

from alembic import command
from sqlalchemy import create_engine, text

from ushiro.migrations import config


def test_stored_keys_are_digested(db_url_factory) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a database at 0005 with a request stored under the key "order-1"
    WHEN it is migrated to head
    THEN the request's key is the SHA-256 of "order-1" (what a retry is looked up by) and
    its payload digest is unknown (NULL)."""
    url = db_url_factory.new_url(migrate=False)
    command.upgrade(config(url), "0005")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO tenants (slug, name, created_at) "
                              "VALUES ('t', 'T', CURRENT_TIMESTAMP)"))
            conn.execute(text(
                "INSERT INTO requests (tenant_id, number, title, body, channel, "
                "requester_email, requester_name, status, priority, idempotency_key, "
                "created_at, updated_at) SELECT id, 1, 't', 'b', 'api', '', '', 'new', "
                "'normal', 'order-1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM tenants"))
        command.upgrade(config(url), "head")
        with engine.connect() as conn:
            row = conn.execute(text("SELECT idempotency_key, idempotency_payload "
                                    "FROM requests")).one()
    finally:
        engine.dispose()
    assert row == (hashlib.sha256(b"order-1").hexdigest(), None)
