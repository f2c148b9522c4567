"""Names, sizes and picker tokens as the pages show them."""
from __future__ import annotations

import datetime as dt

import pytest

from vidjil_pyramid.sample_sets.display import (
    SetToken, format_size, id_string, parse_filter, parse_id_string, patient_display_name, patient_name,
)


@pytest.mark.parametrize("size, text", [
    (0, "0"), (None, "0"), (42, "42 B"), (5333, "5.33 kB"), (72191, "72.2 kB"), (123456, "123 kB"),
    (1000 * 1000, "1.00 MB"), (1024 ** 3, "1.07 GB"), (42 * 2 ** 40, "46.2 TB"),
])
def test_format_size(size, text):
    assert format_size(size) == text


def test_patient_names_follow_the_anonymisation_rule():
    assert patient_name("Jean", "Dupont", True) == "Dupont Jean"
    assert patient_name("Jean", "Dupont", False) == "Dup"
    assert patient_name(None, None, False) == ""
    assert patient_display_name(12, "Jean", "Dupont", False, True) == "Dup (12)"
    assert patient_display_name(12, "Jean", "Dupont", True, False) == "Dupont Jean"


def test_id_strings_round_trip():
    token = id_string("patient", 42, "Doe John", dt.date(1970, 1, 2))
    assert token == ":p Doe John (1970-01-02) (42)"
    assert parse_id_string(token) == SetToken("patient", 42)
    assert parse_id_string(id_string("run", 7, "R (weird) name")) == SetToken("run", 7)
    assert parse_id_string(":s+set_api+(25)") == SetToken("generic", 25)
    for bad in ("", "p Doe (1)", ":x name (1)", ":p no id", ":p name (abc)"):
        assert parse_id_string(bad) is None


def test_parse_filter_splits_words_and_tags():
    assert parse_filter("  dupont #MRD  blood #T-ALL # ") == (["dupont", "blood"], ["MRD", "T-ALL"])
    assert parse_filter(None) == ([], [])
