"""Engine, sessions and their wiring into Pyramid's transaction manager.

Every request gets `request.dbsession`, joined to `request.tm`: the transaction
commits when the view returns normally and rolls back on any error, so a
failing request never leaves half-written rows.
"""
from __future__ import annotations

from typing import Any, Mapping

import zope.sqlalchemy
from sqlalchemy import engine_from_config, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(settings: Mapping[str, Any], prefix: str = "sqlalchemy.") -> Engine:
    url = str(settings[prefix + "url"])
    options: dict[str, Any] = {}
    if url.startswith("sqlite"):
        from pathlib import Path

        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        # Survive MariaDB restarts and idle timeouts.
        options["pool_pre_ping"] = True
        options["pool_recycle"] = 3600
        if url.startswith("mysql") and "charset=" not in url:
            url += ("&" if "?" in url else "?") + "charset=utf8mb4"
    engine = engine_from_config({**settings, prefix + "url": url}, prefix, future=True, **options)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def tm_session(session_factory: sessionmaker[Session], transaction_manager, request=None) -> Session:
    """A session joined to a transaction manager (pyramid_tm's or a CLI one)."""
    dbsession = session_factory(info={"request": request})
    zope.sqlalchemy.register(dbsession, transaction_manager=transaction_manager)
    return dbsession


def includeme(config) -> None:
    settings = config.get_settings()
    settings["tm.manager_hook"] = "pyramid_tm.explicit_manager"
    config.include("pyramid_tm")
    config.include("pyramid_retry")

    engine = settings.get("vidjil.engine") or make_engine(settings)
    session_factory = make_session_factory(engine)
    config.registry["dbsession_factory"] = session_factory
    config.registry["db_engine"] = engine

    def dbsession(request) -> Session:
        # Tests hand in their own session (rolled back after each test).
        session = request.environ.get("app.dbsession")
        if session is None:
            session = tm_session(session_factory, request.tm, request=request)
        return session

    config.add_request_method(dbsession, reify=True)
