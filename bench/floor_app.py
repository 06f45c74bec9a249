"""The floors of `sequester bench api`: a FastAPI route returning a constant, and one
doing one INSERT and COMMIT into the same PostgreSQL database (same server settings)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from psycopg import sql
from psycopg_pool import ConnectionPool

from ops.sqltext import serialize_ddl


def create_floor_app() -> FastAPI:
    url = os.environ["SEQUESTER_BENCH_FLOOR_URL"]
    schema = os.environ.get("SEQUESTER_BENCH_FLOOR_SCHEMA", "public")
    table = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier("bench_floor"))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = ConnectionPool(url, min_size=2, max_size=10, open=True)
        with app.state.pool.connection() as conn:  # the workers start together: take turns
            serialize_ddl(conn, postgres=True, schema=schema)
            conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (id bigserial PRIMARY KEY, "
                                 "body text NOT NULL)").format(table))
        yield
        app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/constant")
    def constant() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/insert")
    def insert() -> dict[str, str]:
        with app.state.pool.connection() as conn:
            conn.execute(sql.SQL("INSERT INTO {} (body) VALUES (%s)").format(table), ("x" * 64,))
        return {"status": "ok"}

    return app
