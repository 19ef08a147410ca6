"""Alembic's environment: migrations run through the application's async engine.

Autogenerate compares the models with the database.  A table registered with
basemodel.register has base columns its model may not map (Tag); the
include_object filter below hides those, so autogenerate does not propose
dropping them (a migration that tried would fail: basemodel refuses to drop a
managed column, SQLSTATE 2BP01).  Alembic does not compare triggers, so the
trigger zzz_basemodel_update needs nothing.
"""
import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import text

from app.database import engine
from app.models import Base  # importing the models fills Base.metadata

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name)


def managed_columns(connection):
    """(schema, table, column) of every base column basemodel manages."""
    rows = connection.execute(
        text(
            """SELECT n.nspname, c.relname, col
                 FROM basemodel.models m
                 JOIN pg_class c ON c.oid = m.model
                 JOIN pg_namespace n ON n.oid = c.relnamespace,
                      unnest(ARRAY[m.id_column, m.created_column, m.updated_column]) AS col
                WHERE col IS NOT NULL"""
        )
    )
    return {tuple(row) for row in rows}


def unmapped_managed_filter(connection):
    """An include_object hook that skips managed columns the models do not map."""
    managed = None
    default_schema = connection.dialect.default_schema_name

    def is_managed(table, column_names):
        """Whether basemodel manages every one of these columns of the table."""
        # read on first use: only autogenerate calls the hook, and the first
        # migration runs before the extension exists
        nonlocal managed
        if managed is None:
            managed = managed_columns(connection)
        schema = table.schema or default_schema
        return all((schema, table.name, name) in managed for name in column_names)

    def include_object(obj, name, type_, reflected, compare_to):
        """False for what only the database has and basemodel manages."""
        if not reflected or compare_to is not None:
            return True
        if type_ == "column":
            return not is_managed(obj.table, [name])
        # the UNIQUE constraint register adds on id when the table has another primary key
        if type_ == "unique_constraint":
            return not is_managed(obj.table, [col.name for col in obj.columns])
        return True

    return include_object


def run_migrations(connection):
    """Run the migrations (or compare the models) on one connection."""
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=unmapped_managed_filter(connection),
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online():
    """Run the migrations through the async engine."""
    async with engine.connect() as connection:
        await connection.run_sync(run_migrations)
    await engine.dispose()


def run_migrations_offline():
    """Write the migrations' SQL (alembic upgrade --sql) instead of running it."""
    context.configure(
        url=engine.url,
        target_metadata=Base.metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
