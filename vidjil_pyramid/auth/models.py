"""Accounts, groups, memberships, permissions and logs (web2py Auth tables)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db.meta import Base
from ..db.types import LongText, reference, string, text


class User(Base):
    __tablename__ = "auth_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_name: Mapped[str | None] = string(128, default="")
    last_name: Mapped[str | None] = string(128, default="")
    email: Mapped[str | None] = string(512, default="", index=True)
    password: Mapped[str | None] = string(512)
    registration_key: Mapped[str | None] = string(512, default="")
    reset_password_key: Mapped[str | None] = string(512, default="")
    registration_id: Mapped[str | None] = string(512, default="")

    @property
    def full_name(self) -> str:
        return f"{self.first_name or ''} {self.last_name or ''}".strip()

    @property
    def is_active(self) -> bool:
        """web2py semantics: an empty registration key means an active account."""
        return not (self.registration_key or "").strip()


class Group(Base):
    __tablename__ = "auth_group"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str | None] = string(512, default="", index=True)
    description: Mapped[str | None] = text()


class Membership(Base):
    __tablename__ = "auth_membership"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = reference("auth_user")
    group_id: Mapped[int | None] = reference("auth_group")


class Permission(Base):
    __tablename__ = "auth_permission"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int | None] = reference("auth_group")
    name: Mapped[str | None] = string(512, default="default", index=True)
    table_name: Mapped[str | None] = string(512)
    record_id: Mapped[int | None] = mapped_column(Integer, default=0, index=True)


class AuthEvent(Base):
    __tablename__ = "auth_event"
    __table_args__ = (Index("ix_auth_event_time_stamp", "time_stamp"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time_stamp: Mapped[dt.datetime | None] = mapped_column(DateTime, default=dt.datetime.now)
    client_ip: Mapped[str | None] = string(512, index=True)
    user_id: Mapped[int | None] = reference("auth_user")
    origin: Mapped[str | None] = string(512, default="auth")
    description: Mapped[str | None] = text(default="")


class AuthCas(Base):
    __tablename__ = "auth_cas"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = reference("auth_user")
    created_on: Mapped[dt.datetime | None] = mapped_column(DateTime, default=dt.datetime.now)
    service: Mapped[str | None] = string(512)
    ticket: Mapped[str | None] = string(512)
    renew: Mapped[bool | None] = mapped_column(Boolean, default=False)


class GroupAssoc(Base):
    """first_group_id is the parent, second_group_id the child."""

    __tablename__ = "group_assoc"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_group_id: Mapped[int | None] = reference("auth_group")
    second_group_id: Mapped[int | None] = reference("auth_group")


class UserLog(Base):
    __tablename__ = "user_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = reference("auth_user")
    created: Mapped[dt.datetime | None] = mapped_column(DateTime)
    msg: Mapped[str | None] = text()
    table_name: Mapped[str | None] = string(512)
    record_id: Mapped[int | None] = mapped_column(Integer)


class UserPreference(Base):
    __tablename__ = "user_preference"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = reference("auth_user")
    preference: Mapped[str | None] = string(512)
    val: Mapped[str | None] = string(512)


class WebSession(Base):
    """Server-side login sessions (ours: web2py kept sessions in files).

    The cookie holds a random token; only its SHA-256 is stored, so a database
    leak does not hand out live sessions. Deleting the row ends the session.
    """

    __tablename__ = "vidjil_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("auth_user.id", ondelete="CASCADE"),
        nullable=False, index=True,
    )
    impersonator_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, index=True)
    client_ip: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[str | None] = mapped_column(LongText)
