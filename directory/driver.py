"""DB-API details the bulk paths need (import, search index, search reads).

Those paths bind values through the driver directly, because SQLAlchemy's per-row
statement bookkeeping would dominate them; everything else goes through SQLAlchemy.
"""

from __future__ import annotations

from sqlalchemy.engine import Dialect


def positional_placeholder(dialect: Dialect) -> str | None:
    """The driver's positional parameter marker (``?`` or ``%s``), or None for drivers with
    named parameters, which then go through SQLAlchemy."""
    return {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(dialect.paramstyle)
