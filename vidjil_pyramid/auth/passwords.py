"""Password hashing: verify every web2py format, write argon2id.

web2py stored `<alg>$<salt>$<hexdigest>` (CRYPT, default pbkdf2(1000,20,sha512)),
and older installs may hold plain salted digests or unsalted hex digests.
Accounts imported from web2py keep logging in with their old passwords; the
hash is upgraded to argon2id at the first successful login.
"""
from __future__ import annotations

import hashlib
import hmac
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 8
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_PBKDF2 = re.compile(r"^pbkdf2\((\d+),(\d+),(\w+)\)$")
_DIGESTS_BY_HEX_LENGTH = {32: "md5", 40: "sha1", 56: "sha224", 64: "sha256", 96: "sha384", 128: "sha512"}
_PLAIN_DIGESTS = {"md5", "sha1", "sha224", "sha256", "sha384", "sha512"}


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_new_password(password: str | None) -> str | None:
    """The reason a new password is refused, or None."""
    if not password or len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters long"
    return None


def _web2py_digest(stored: str, password: str) -> tuple[str, str] | None:
    """(expected, computed) hex digests for a web2py CRYPT value, or None if unknown."""
    raw = password.encode("utf-8")
    if "$" not in stored:
        algorithm = _DIGESTS_BY_HEX_LENGTH.get(len(stored))
        if algorithm is None:
            return None
        return stored.lower(), hashlib.new(algorithm, raw).hexdigest()
    parts = stored.split("$")
    if len(parts) != 3:
        return None
    algorithm, salt, expected = parts
    match = _PBKDF2.match(algorithm)
    if match:
        iterations, length, digest = int(match[1]), int(match[2]), match[3]
        if digest not in _PLAIN_DIGESTS or iterations < 1 or not 0 < length <= 512:
            return None
        # web2py uses the salt text itself (not hex-decoded) as the PBKDF2 salt.
        computed = hashlib.pbkdf2_hmac(digest, raw, salt.encode("ascii", "replace"), iterations, length)
        return expected.lower(), computed.hex()
    if algorithm in _PLAIN_DIGESTS:
        return expected.lower(), hashlib.new(algorithm, raw + salt.encode("utf-8")).hexdigest()
    return None


def verify_password(stored: str | None, password: str | None) -> bool:
    """Constant-time check of a password against any stored format we know."""
    if not stored or password is None:
        return False
    if stored.startswith("$argon2"):
        try:
            return _hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    pair = _web2py_digest(stored, password)
    if pair is None:
        return False
    return hmac.compare_digest(pair[0].encode(), pair[1].encode())


def needs_rehash(stored: str | None) -> bool:
    if not stored or not stored.startswith("$argon2"):
        return True
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True
