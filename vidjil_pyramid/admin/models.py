"""Analysis configurations, their classifications, and admin notifications."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, Integer
from sqlalchemy.orm import Mapped, mapped_column

from ..db.meta import Base
from ..db.types import reference, string, text


class Classification(Base):
    __tablename__ = "classification"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = string()
    info: Mapped[str | None] = text()


class Config(Base):
    __tablename__ = "config"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = string()
    program: Mapped[str | None] = string()
    command: Mapped[str | None] = string()
    fuse_command: Mapped[str | None] = string()
    info: Mapped[str | None] = text()
    classification: Mapped[int | None] = reference("classification", ondelete="SET NULL")


class Notification(Base):
    __tablename__ = "notification"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    creator: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str | None] = string()
    message_content: Mapped[str | None] = text()
    message_type: Mapped[str | None] = string()
    priority: Mapped[str | None] = string()
    expiration: Mapped[dt.date | None] = mapped_column(Date)
    creation_datetime: Mapped[dt.datetime | None] = mapped_column(DateTime)
