"""UCUM unit conversion (service.units)."""

import pytest

from service.units import UnknownUnit, convert, same_unit


@pytest.mark.parametrize(
    ("value", "sent", "wanted", "result"),
    [
        (1.034, "dGy.cm2", "Gy.m2", 1.034e-05),  # Canon Ultimax-i DAP
        (16, "cGy.cm2", "Gy.m2", 1.6e-05),
        (1.6e-05, "Gym2", "Gy.m2", 1.6e-05),
        (1.034, "mGy", "Gy", 0.001034),  # dose at RP sent in mGy
        (2002.39, "mGycm", "mGy.cm", 2002.39),  # GE LightSpeed VCT spelling
        (1.25, "Gy.cm", "mGy.cm", 1250.0),
        (5, "mAs", "uA.s", 5000.0),
        (370, "MBq", "Bq", 3.7e08),
        (10, "mCi", "MBq", 370.0),
        (2, "min", "s", 120.0),
    ],
)
def test_convert(value: float, sent: str, wanted: str, result: float) -> None:
    assert convert(value, sent, wanted) == pytest.approx(result, rel=1e-12)


@pytest.mark.parametrize(("sent", "wanted"), [("mGy", "Gy.m2"), ("furlong", "m"), ("kV", "mA")])
def test_refuses_what_does_not_convert(sent: str, wanted: str) -> None:
    with pytest.raises(UnknownUnit):
        convert(1.0, sent, wanted)


def test_same_unit_in_two_spellings() -> None:
    assert same_unit("Gym2", "Gy.m2")
    assert not same_unit("mGy", "Gy")
