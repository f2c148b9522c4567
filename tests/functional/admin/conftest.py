"""People and helpers of the administration, account, group and impersonation page tests."""
from __future__ import annotations

import pytest

from factories import make_group, make_user
from webclient import login

PASSWORD = "Secret-123"



@pytest.fixture
def admin(initial_data):
    return make_user(initial_data, email="admin@lab.test", admin=True, first_name="Ada", last_name="Min")


@pytest.fixture
def lab(initial_data):
    return make_group(initial_data, "hematology-lab", rights=("create", "read", "admin", "upload", "save"))


@pytest.fixture
def alice(initial_data, lab):
    return make_user(initial_data, email="alice@lab.test", first_name="Alice", last_name="Martin", groups=[lab])


@pytest.fixture
def bob(initial_data):
    return make_user(initial_data, email="bob@other.test", first_name="Bob", last_name="Durand")


@pytest.fixture
def as_admin(testapp, admin):
    login(testapp, admin.email, PASSWORD)
    return testapp


@pytest.fixture
def as_alice(testapp, alice):
    login(testapp, alice.email, PASSWORD)
    return testapp


@pytest.fixture
def as_bob(testapp, bob):
    login(testapp, bob.email, PASSWORD)
    return testapp


@pytest.fixture
def other_browser(testapp):
    """A second browser (its own cookies) on the same app and database transaction."""
    import webtest

    return webtest.TestApp(testapp.app, extra_environ=dict(testapp.extra_environ))
