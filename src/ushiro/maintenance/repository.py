"""Which stored files the database refers to. Never commits."""

from __future__ import annotations

from sqlalchemy import Column, select, union
from sqlalchemy.orm import Session

from ushiro import domains
from ushiro.core.db import Base


def file_columns() -> list[Column[str]]:
    """Every column that holds the SHA-256 of a file in the content-addressed store, as
    the domains declare them (``stored_files`` in ``ushiro.domains``): `files gc` keeps
    every file they name."""
    domains.load_models()
    return [Base.metadata.tables[table].c[column]
            for table, column in domains.stored_file_columns()]


def referenced_digests(session: Session) -> set[str]:
    stmt = union(*(select(column.label("digest")) for column in file_columns()))
    return {str(d) for d in session.scalars(stmt)}
