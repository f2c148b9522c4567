"""Converting web2py values, naming password formats, reading dumps: no database needed."""
from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io

import pytest

from legacy_import import convert
from legacy_import.accounts import password_format
from legacy_import.scratch import DumpError, filtered_lines, statements
from legacy_import.tables import IMPORTED_TABLES, PHASES, tables_without_rule
from vidjil_pyramid.auth.passwords import hash_password, verify_password
from vidjil_pyramid.models import metadata


@pytest.mark.parametrize("raw, expected", [
    ("T", True), ("F", False), ("t", True), ("true", True), ("f", False), ("", None), (None, None),
    (b"T", True), (1, True), (0, False), (True, True),
])
def test_web2py_booleans(raw, expected):
    assert convert.to_bool(raw) == (expected, None)


def test_not_null_booleans_get_their_default_when_missing():
    hidden = metadata.tables["results_file"].c.hidden
    assert hidden.nullable is False and hidden.default.arg is False


@pytest.mark.parametrize("raw, expected, problem", [
    (dt.date(2014, 5, 2), dt.datetime(2014, 5, 2), None),
    ("2014-05-02 10:11:12", dt.datetime(2014, 5, 2, 10, 11, 12), None),
    ("0000-00-00 00:00:00", None, convert.ZERO_DATE),
    ("2019-02-30", None, convert.BAD_DATE),
    ("", None, None),
])
def test_datetimes(raw, expected, problem):
    assert convert.to_datetime(raw) == (expected, problem)


def test_dates():
    assert convert.to_date("0000-00-00") == (None, convert.ZERO_DATE)
    assert convert.to_date(dt.datetime(2020, 1, 2, 3, 4)) == (dt.date(2020, 1, 2), None)
    assert convert.to_date("1961-04-12") == (dt.date(1961, 4, 12), None)


def test_numbers_and_texts():
    assert convert.to_int("42") == (42, None)
    assert convert.to_int("abc") == (None, convert.BAD_NUMBER)
    assert convert.to_int("") == (None, None)
    to_text = convert.text_converter(5)
    assert to_text("abcdefgh") == ("abcde", convert.TRUNCATED)
    assert to_text(b"caf\xc3\xa9") == ("café", None)
    assert to_text(b"caf\xe9") == ("caf\ufffd", convert.BAD_UTF8)
    assert convert.text_converter(None)("x" * 10000) == ("x" * 10000, None)


def test_the_converter_follows_the_column_type():
    sequence_file = metadata.tables["sequence_file"]
    assert convert.converter_for(sequence_file.c.network) is convert.to_bool
    assert convert.converter_for(sequence_file.c.sampling_date) is convert.to_date
    assert convert.converter_for(sequence_file.c.size_file) is convert.to_int
    assert convert.converter_for(metadata.tables["results_file"].c.run_date) is convert.to_datetime


def test_every_table_of_ours_has_an_import_rule():
    assert tables_without_rule() == []
    assert len(IMPORTED_TABLES) == len(set(IMPORTED_TABLES))
    seen: set[str] = set()
    for _, specs in PHASES:  # references only point to tables of earlier phases or earlier in the phase
        for spec in specs:
            for reference in spec.references:
                assert reference.table in seen or reference.table == spec.name, (spec.name, reference)
            seen.add(spec.name)


@pytest.mark.parametrize("stored", [
    "pbkdf2(1000,20,sha512)$0123456789abcdef$468322864e8aaf0949db2d8e8e2fc0ed2f23aadc",
    "sha512$abc$" + hashlib.sha512(b"password123abc").hexdigest(),
    hashlib.md5(b"password123").hexdigest(),
    hashlib.sha1(b"password123").hexdigest(),
])
def test_every_format_named_known_is_one_the_login_verifies(stored):
    assert password_format(stored) is not None
    assert verify_password(stored, "password123")


@pytest.mark.parametrize("stored", [None, "", "plain-text", "$unknown$abc", "pbkdf2(1000,20,foo)$a$b",
                                    "md5$salt$nothex", "a$b$c$d"])
def test_unknown_formats_are_named_unknown(stored):
    assert password_format(stored) is None
    assert not verify_password(stored, "password123")


def test_argon2_hashes_are_known():
    assert password_format(hash_password("password123")) == "argon2"


DUMP = b"""/*M!999999\\- enable the sandbox mode */
-- MariaDB dump
/*!40101 SET NAMES utf8mb4 */;
CREATE DATABASE /*!32312 IF NOT EXISTS*/ `vidjil`;
USE `vidjil`;
SET @@SESSION.SQL_LOG_BIN= 0;
SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,
3E11FA47-71CA-11E1-9E33-C80AA9429563:1-7';
DROP TABLE IF EXISTS `t`;
CREATE TABLE `t` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `v` longtext,
  PRIMARY KEY (`id`)
);
INSERT INTO `t` VALUES (1,'a;\\nb'),(2,'-- not a comment;');
DELIMITER ;;
CREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.v = 'y'; END ;;
DELIMITER ;
"""


def test_dump_statements_without_other_databases_nor_server_settings():
    found = list(statements(filtered_lines(io.BytesIO(DUMP))))
    assert found[0] == b"/*!40101 SET NAMES utf8mb4 */"
    assert not any(s.startswith((b"CREATE DATABASE", b"USE", b"SET @@", b"3E11")) for s in found)
    assert found[2].startswith(b"CREATE TABLE `t` (") and found[2].endswith(b")")
    assert found[3] == b"INSERT INTO `t` VALUES (1,'a;\\nb'),(2,'-- not a comment;')"
    assert found[4].endswith(b"END ")
    assert len(found) == 5


def test_a_dump_of_several_databases_is_refused():
    dump = DUMP + b"USE `mysql`;\nINSERT INTO user VALUES (1);\n"
    with pytest.raises(DumpError, match="several databases"):
        list(filtered_lines(io.BytesIO(dump)))


def test_a_truncated_dump_is_refused():
    with pytest.raises(DumpError, match="truncated"):
        list(statements(iter([b"INSERT INTO t VALUES (1,\n"])))


def test_gzipped_dumps_are_read(tmp_path):
    from legacy_import.scratch import _open_dump

    path = tmp_path / "dump.sql.gz"
    path.write_bytes(gzip.compress(DUMP))
    with _open_dump(path) as stream:
        assert stream.read() == DUMP
