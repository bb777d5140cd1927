"""Alembic environment: the metadata of every domain's models."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from ushiro import domains
from ushiro.core.db import Base

domains.load_models()

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url
connectable = config.attributes.get("connection")


def run(connection: object) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata,  # type: ignore[arg-type]
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if connectable is not None:
    run(connectable)
else:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        run(conn)
    engine.dispose()
