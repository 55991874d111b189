"""How numbers are shown (schemas.display): one formatter for pages and audit tables."""

from __future__ import annotations

import pytest

from schemas.display import format_number, shown, shown_field
from schemas.study import Summary


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (46881, "46,881"),  # thousands separated
        (16.2604, "16.26"),  # four significant figures...
        (1590.0, "1,590"),  # ...a whole value reads as whole
        (1102.45, "1,102"),  # never fewer than the integer digits
        (200.5, "200.5"),
        (0.0000625, "0.0000625"),  # rounded half up, as read (not half to even)
        (0.000220346, "0.0002203"),  # dose at RP in Gy: no exponent
        (5.1e-05, "0.000051"),
        (999.96, "1,000"),
        (-3.14159, "-3.142"),
        (0.0, "0"),
        (None, ""),  # missing is empty, never "None"
        (float("nan"), ""),
        (float("inf"), ""),
        (True, ""),  # a flag is not a number
    ],
)
def test_numbers_are_shown_with_separators_and_four_figures(value: object, text: str) -> None:
    assert format_number(value) == text


def test_a_shown_unit_converts_before_formatting() -> None:
    dap = shown_field(Summary().fields["total_dap"])
    assert (dap.unit, dap.format(0.00125), dap.format(12.3456)) == ("cGy·cm²", "1,250", "12,345,600")  # Gy·m² x 10^6
    assert shown("mGy", figures=2).format(16.2604) == "16"
