"""Drive examples/sqlalchemy the way an application does and print what it
measured as one JSON object; test/t/sqlalchemy.t judges it.

Runs in a copy of examples/sqlalchemy (PYTHONPATH=. so that "import app"
finds the example) with DATABASE_URL naming a database that alembic upgrade
prepared, and CREATE_ALL_URL an empty one with the extension.
"""
import asyncio
import json
import os
import warnings
from datetime import datetime, timezone

from sqlalchemy import Column, DateTime, FetchedValue, Integer, Text, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import registry, sessionmaker

from app.database import Base, async_session_maker, engine, tablename
from app.models import Tag, User

# reading an expired attribute in an async session (the check without
# eager_defaults) leaves a coroutine that never ran: expected there
warnings.filterwarnings("ignore", "coroutine .* was never awaited", RuntimeWarning)


def iso(value):
    """A datetime as a fixed-width ISO string (they then sort as they compare)."""
    return value.isoformat(timespec="microseconds") if isinstance(value, datetime) else value


async def stored(session, user_id):
    """created_at and updated_at of a users row as the database has them now, as ISO strings."""
    row = (await session.execute(
        text("SELECT created_at, updated_at FROM users WHERE id = :id"), {"id": user_id})).one()
    return [iso(row.created_at), iso(row.updated_at)]


async def scalar(session, query, **params):
    """One value of a query."""
    return (await session.execute(text(query), params)).scalar_one()


async def insert_and_update():
    """An INSERT, then UPDATEs (flush, commit): the timestamps in memory against the stored ones."""
    async with async_session_maker() as session:
        ann = User(name="ann", password_hash="secret")
        session.add(ann)
        await session.commit()
        insert = {"id": ann.id, "in_memory": [iso(ann.created_at), iso(ann.updated_at)],
                  "stored": await stored(session, ann.id)}
        await session.commit()

        ann.visits = 1
        await session.flush()
        after_flush = iso(ann.updated_at)
        stored_after_flush = (await stored(session, ann.id))[1]
        await session.commit()
        ann.name = "anne"
        await session.commit()
        update_ = {
            "inserted": insert["in_memory"][1],
            "after_flush": after_flush,
            "stored_after_flush": stored_after_flush,
            "after_commit": iso(ann.updated_at),
            "in_memory": [iso(ann.created_at), iso(ann.updated_at)],
            "stored": await stored(session, ann.id),
        }
        await session.commit()
    return {"insert": insert, "update": update_}, ann.id


async def merge(user_id):
    """session.merge of a detached object with a known id (an UPDATE) and of a new one (an INSERT)."""
    async with async_session_maker() as session:
        before = (await stored(session, user_id))[1]
        await session.commit()
        merged = await session.merge(User(id=user_id, name="ann merged", visits=5))
        fresh = await session.merge(User(name="bob"))
        await session.commit()
        result = {
            "before": before,
            "in_memory": iso(merged.updated_at),
            "stored": (await stored(session, user_id))[1],
            "name": await scalar(session, "SELECT name FROM users WHERE id = :id", id=user_id),
            "new_id": fresh.id,
            "new_in_memory": [iso(fresh.created_at), iso(fresh.updated_at)],
        }
        await session.commit()
    return result


async def bulk_update(user_id):
    """An UPDATE statement through the session, with RETURNING; a loaded object beside it."""
    all_updated_at = "SELECT array_agg(updated_at ORDER BY id) FROM users"
    async with async_session_maker() as session:
        ann = await session.get(User, user_id)
        before = [iso(v) for v in await scalar(session, all_updated_at)]
        await session.commit()
        rows = await session.execute(
            update(User).values(visits=User.visits + 1).returning(User.id, User.updated_at))
        returned = [iso(row.updated_at) for row in sorted(rows, key=lambda row: row.id)]
        await session.commit()
        result = {
            "before": before,
            "after": [iso(v) for v in await scalar(session, all_updated_at)],
            "returned": returned,
            "in_memory": iso(ann.updated_at),
            "visits": await scalar(session, "SELECT array_agg(visits ORDER BY id) FROM users"),
        }
        await session.commit()
    return result


async def refusals(user_id):
    """Changing created_at or id of a registered table, registering a missing one: the errors."""
    result = {}
    for column, value in (("created_at", datetime(2000, 1, 1, tzinfo=timezone.utc)), ("id", 1000)):
        async with async_session_maker() as session:
            ann = await session.get(User, user_id)
            setattr(ann, column, value)
            try:
                await session.commit()
                result[column] = {"error": None}
            except DBAPIError as e:
                cause = e.orig.__cause__  # the asyncpg exception
                result[column] = {
                    "error": type(e).__name__,
                    "sqlstate": e.orig.sqlstate,
                    "message": cause.message,
                    "detail": cause.detail,
                    "hint": cause.hint,
                }
                await session.rollback()
    async with async_session_maker() as session:
        try:
            await session.execute(text("SELECT basemodel.register('no_such_table')"))
            result["missing_table"] = {"error": None}
        except DBAPIError as e:
            result["missing_table"] = {"error": type(e).__name__, "sqlstate": e.orig.sqlstate}
    return result


async def to_dicts(user_id):
    """The Python to_dict (mapped attributes) beside SQL basemodel.to_dict of the same row."""
    async with async_session_maker() as session:
        ann = await session.get(User, user_id)
        py = ann.to_dict()
        db = await ann.to_json_dict(session)
        excluding = await ann.to_json_dict(session, exclude=["visits"])
        await session.commit()
        await session.execute(text("SET LOCAL TimeZone = 'Europe/Moscow'"))
        db_moscow = await ann.to_json_dict(session)
        await session.commit()
        session.add(Tag(name="urgent", colour="red"))
        # an import keeps an explicit created_at; this one has trailing zeros
        imported = User(name="imported", created_at=datetime(2026, 1, 1, 0, 0, 0, 500000, timezone.utc))
        session.add(imported)
        await session.commit()
        imported_sql = (await imported.to_json_dict(session))["created_at"]
        await session.commit()
        stamps = ("created_at", "updated_at")
        return {
            "python_keys": list(py),
            "python_types": {k: type(v).__name__ for k, v in py.items()},
            "python_iso": {k: py[k].isoformat() for k in stamps},
            "sql_keys": list(db),
            "sql": db,
            "sql_excluding_keys": list(excluding),
            "sql_moscow": {k: db_moscow[k] for k in stamps},
            "same_instants": all(
                datetime.fromisoformat(d[k]) == py[k] for d in (db, db_moscow) for k in stamps),
            "imported": [imported.to_dict()["created_at"].isoformat(), imported_sql],
            "tags": await scalar(session, "SELECT string_agg(name || ' ' || id, ',') FROM tags"),
        }


async def tablenames():
    """The Python __tablename__ rule beside SQL basemodel.tablename."""
    async with async_session_maker() as session:
        return {
            "users_table": User.__tablename__,
            "rule": {
                name: [tablename(name),
                       await scalar(session, "SELECT basemodel.tablename(:n)", n=name)]
                for name in ("User", "Category", "HTTPLog", "tag_2")
            },
        }


def naive_user(mapper_args, **updated_at_options):
    """A mapping of users like the recipe's but with updated_at declared otherwise."""
    class NaiveUser:
        __tablename__ = "users"
        __mapper_args__ = mapper_args
        id = Column(Integer, primary_key=True)
        name = Column(Text)
        updated_at = Column(DateTime(timezone=True), **updated_at_options)

    registry().mapped(NaiveUser)
    return NaiveUser


async def stale(user_id, cls, name):
    """Update a row through cls: its updated_at in memory after commit, and the stored one."""
    async with async_session_maker() as session:
        obj = await session.get(cls, user_id)
        before = iso(obj.updated_at)
        obj.name = name
        await session.commit()
        try:
            in_memory = iso(obj.updated_at)
        except Exception as e:  # an expired attribute cannot load in an async session
            in_memory = "error: " + type(e).__name__
        return {"before": before, "in_memory": in_memory,
                "stored": (await stored(session, user_id))[1]}


async def create_all():
    """metadata.create_all in an empty database: which tables got registered."""
    other = create_async_engine(os.environ["CREATE_ALL_URL"])
    async with other.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with sessionmaker(other, class_=AsyncSession, expire_on_commit=False)() as session:
        carol = User(name="carol")
        session.add(carol)
        await session.commit()
        models = await scalar(
            session,
            "SELECT string_agg(concat_ws(' ', model, id_column, created_column, updated_column),"
            " ', ' ORDER BY model::text) FROM basemodel.models")
        result = {"models": models, "insert": [carol.id, iso(carol.created_at)]}
    await other.dispose()
    return result


async def main():
    """Every check, in order, on the database alembic prepared; then create_all."""
    out, user_id = await insert_and_update()
    out["merge"] = await merge(user_id)
    out["bulk_update"] = await bulk_update(user_id)
    out["refusals"] = await refusals(user_id)
    out["to_dict"] = await to_dicts(user_id)
    out["tablename"] = await tablenames()
    # what the recipe's two settings are for: each one left out
    out["without_fetchedvalue"] = await stale(
        user_id, naive_user({"eager_defaults": True}), "no FetchedValue")
    out["without_eager_defaults"] = await stale(
        user_id, naive_user({}, server_onupdate=FetchedValue()), "no eager_defaults")
    await engine.dispose()
    out["create_all"] = await create_all()
    print(json.dumps(out, indent=1, default=str))


asyncio.run(main())
