"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import ushiro.answers.models  # noqa: F401  (every domain's tables on Base.metadata)
import ushiro.audit.models  # noqa: F401
import ushiro.desk.models  # noqa: F401
import ushiro.identity.models  # noqa: F401
import ushiro.jobs.models  # noqa: F401
import ushiro.knowledge.models  # noqa: F401
from ushiro.core.db import Base


def test_the_migrated_schema_matches_the_models(db_url_factory) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a database migrated to head
    WHEN it is compared with the models
    THEN alembic finds nothing to add, drop or change (a model changed without its
    migration, or a migration written by hand that differs, fails here)."""
    engine = create_engine(db_url_factory.new_url())
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
