"""Weaknesses closed because the server does not offer the URL at all.

W8: the IMGT and ARResT relays; W9: the public segmenter; W10: taking over an empty
database from the browser (accounts are made with `vidjil-server user add`).
"""
import pytest


@pytest.mark.parametrize("url", [
    "/vidjil/proxy/imgt",            # W8
    "/vidjil/proxy/assign_subsets",  # W8
    "/vidjil/segmenter",             # W9
    "/vidjil/segmenter/index",       # W9
    "/vidjil/default/init_db",       # W10
    "/vidjil/default/init_db_form",  # W10
    "/vidjil/default/init_from_csv", # W10
])
def test_url_does_not_exist(testapp, url):
    assert testapp.post(url, {"email": "x@y.z", "password": "takeover-123", "confirm_password": "takeover-123",
                              "sequences": ">s\nACGT"}, status=404).text == "404"
