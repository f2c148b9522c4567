import hashlib

import pytest

from vidjil_pyramid.auth.passwords import check_new_password, hash_password, needs_rehash, verify_password

WEB2PY_VECTOR = "pbkdf2(1000,20,sha512)$0123456789abcdef$468322864e8aaf0949db2d8e8e2fc0ed2f23aadc"


def test_web2py_test_vector_of_the_spec():
    assert verify_password(WEB2PY_VECTOR, "password123")
    assert not verify_password(WEB2PY_VECTOR, "password124")
    assert needs_rehash(WEB2PY_VECTOR)


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "sha256", "sha512"])
def test_salted_and_unsalted_legacy_digests(algorithm):
    salted = f"{algorithm}$abc${hashlib.new(algorithm, b'pw-123456abc').hexdigest()}"
    assert verify_password(salted, "pw-123456") and not verify_password(salted, "pw-1234567")
    unsalted = hashlib.new(algorithm, b"pw-123456").hexdigest()
    assert verify_password(unsalted, "pw-123456") and not verify_password(unsalted, "nope")


@pytest.mark.parametrize("stored", ["", None, "garbage", "pbkdf2(1000,20,sha512)$onlyonedollar",
                                    "pbkdf2(0,20,sha512)$s$00", "unknown$s$00", "$argon2id$broken"])
def test_unknown_or_broken_values_never_match(stored):
    assert not verify_password(stored, "anything")


def test_argon2id_for_new_passwords():
    stored = hash_password("a-long-password")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "a-long-password") and not verify_password(stored, "other-password")
    assert not needs_rehash(stored)


def test_new_passwords_need_eight_characters():
    assert check_new_password("1234567")
    assert check_new_password("") and check_new_password(None)
    assert check_new_password("12345678") is None
