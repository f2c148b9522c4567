"""Fast accounts for the set service tests (argon2 hashes each test password once per run)."""
from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from vidjil_pyramid.auth import passwords

_hashes: dict[str, str] = {}
# argon2id still, but with the cheapest parameters: the login flow verifies for real, in milliseconds.
_cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def fast_password_hashes(monkeypatch):
    """argon2 takes a third of a second per hash by design: tests use cheap parameters instead."""
    needs_rehash = passwords.needs_rehash

    def cached(password: str) -> str:
        if password not in _hashes:
            _hashes[password] = _cheap.hash(password)
        return _hashes[password]

    monkeypatch.setattr(passwords, "hash_password", cached)
    monkeypatch.setattr(passwords, "needs_rehash", lambda stored: stored not in _hashes.values() and needs_rehash(stored))
