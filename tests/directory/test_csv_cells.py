"""CSV formula injection (issue 14, finding 5): the export's quote and the import's undoing
of it, exact for every text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from directory.csv_cells import FORMULA_STARTS, neutralise, restore


@pytest.mark.parametrize(("value", "written"), [
    ('=HYPERLINK("http://x","Cliquez")', '\'=HYPERLINK("http://x","Cliquez")'),
    ("+262 262 00 00 00", "'+262 262 00 00 00"),
    ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("'=1", "''=1"),  # a quote of its own before a formula keeps it after the round trip
    ("-21.0345", "-21.0345"),  # a latitude is a number, not a formula
    ("55", "55"),
    ("'Ti Kaz", "'Ti Kaz"),  # a Creole name's apostrophe is text
    ("Le Bar", "Le Bar"),
    ("", ""),
])
def test_neutralise(value: str, written: str) -> None:
    assert neutralise(value) == written
    assert restore(written) == value


@given(st.text())
def test_restore_undoes_neutralise_for_any_text(value: str) -> None:
    written = neutralise(value)
    assert restore(written) == value
    if written.startswith(FORMULA_STARTS):  # only a plain number is written as it is
        float(written)


@given(st.text(alphabet="'=+-@\t\r1a. ", max_size=6))
def test_round_trip_near_the_edge_cases(value: str) -> None:
    assert restore(neutralise(value)) == value
