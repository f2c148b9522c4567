"""Column helpers mapping web2py field kinds to our column types."""
from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import mapped_column

# web2py `text`/`json` fields are LONGTEXT on MySQL; keep that so big infos and logs fit.
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
# 64-bit ids are not needed (web2py used INT) but sizes are.
BigInt = BigInteger().with_variant(Integer(), "sqlite")


def string(length: int = 512, **kw):
    return mapped_column(String(length), **kw)


def text(**kw):
    return mapped_column(LongText, **kw)


def reference(table: str, ondelete: str = "CASCADE", **kw):
    """A web2py `reference` field: nullable FK with an index."""
    return mapped_column(
        Integer, ForeignKey(f"{table}.id", ondelete=ondelete), nullable=True, index=True, **kw
    )


def upload(**kw):
    """A web2py `upload` field: only the stored file name, never the content."""
    return mapped_column(String(400), **kw)
