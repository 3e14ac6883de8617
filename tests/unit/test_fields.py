"""Issue 14, points 2 and 4: the field rules every contract applies (gateway_core/domain/fields.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway_core.adapters.jsonwire import dumps, dumps_view, loads
from gateway_core.domain import fields


@pytest.mark.parametrize("value", ["1_000", "١٢٣", "+5", "5e2", "-1", " 5", "5 ", "5\n", "1.", ".5", "1.2.3", "0x10",
                                   "1e999999999", "NaN", "Infinity", "\uff15", "1" * 40])
def test_string_amounts_are_ascii_digits_and_one_point(value) -> None:
    with pytest.raises(fields.FieldError):
        fields.amount(value)


@pytest.mark.parametrize(("value", "expected"), [("99.99", Decimal("99.99")), ("25", Decimal(25)),
                                                 (25, Decimal(25)), (Decimal("0.5"), Decimal("0.5")),
                                                 (Decimal("5E+2"), Decimal(500))])
def test_good_amounts(value, expected) -> None:
    assert fields.amount(value) == expected


@pytest.mark.parametrize("value", [Decimal("1E+999999999"), Decimal("1E-999999999"), Decimal("NaN"),
                                   Decimal("Infinity"), 10**30, True])
def test_json_numbers_are_finite_and_bounded(value) -> None:
    with pytest.raises(fields.FieldError):
        fields.amount(value)


def test_missing_and_not_positive_amounts_are_told_apart() -> None:
    with pytest.raises(fields.Missing):
        fields.amount(None)
    with pytest.raises(fields.NotPositive):
        fields.amount(Decimal(-3))
    with pytest.raises(fields.FieldError):
        fields.amount(25, numbers=False)  # VeltPay: strings only


@pytest.mark.parametrize("value", ["a\x00b", "\ud800", "x\udfffy", "a\x07b"])
def test_text_refuses_what_cannot_be_stored(value) -> None:
    with pytest.raises(fields.FieldError):
        fields.text(value, 100)


def test_text_is_normalised_stripped_and_bounded() -> None:
    assert fields.text("  e\u0301te  ", 10) == "\u00e9te"  # NFC
    assert fields.text("line one\nline two", 100, multiline=True) == "line one\nline two"
    assert fields.text("   ", 10) is None
    assert fields.text(42, 10) == "42"
    with pytest.raises(fields.FieldError, match="blank"):
        fields.text("   ", 10, required=True)
    with pytest.raises(fields.FieldError, match="at most 3"):
        fields.text("abcd", 3)
    with pytest.raises(fields.FieldError):
        fields.text("a\nb", 10)  # single-line fields keep no line break


def deep(levels: int) -> dict:
    node: dict = {"leaf": 1}
    for _ in range(levels - 1):
        node = {"k": node}
    return node


def test_metadata_depth_size_and_keys_are_bounded() -> None:
    assert fields.metadata(deep(5)) == deep(5)
    with pytest.raises(fields.FieldError, match="nest"):
        fields.metadata(deep(6))
    with pytest.raises(fields.FieldError, match="bytes"):
        fields.metadata({"k": "x" * (fields.MAX_METADATA_BYTES + 1)})
    with pytest.raises(fields.FieldError, match="keys"):
        fields.metadata({str(n): n for n in range(fields.MAX_METADATA_KEYS + 1)})
    with pytest.raises(fields.FieldError, match="k"):
        fields.metadata({"a": {"k": "\ud800"}})
    with pytest.raises(fields.FieldError, match="keys"):
        fields.metadata({"a\x00": 1})
    with pytest.raises(fields.FieldError, match="finite"):
        fields.metadata({"n": Decimal("1E+999999999")})


@pytest.mark.parametrize(("value", "number"), [("7", 7), (7, 7), (Decimal("7"), 7), (None, 1)])
def test_whole_numbers(value, number) -> None:
    assert fields.whole(value, default=1) == number


@pytest.mark.parametrize("value", [Decimal("1E+30"), "1" * 23, 2**40, "٣", "-1", "1.5", Decimal("1.5"), True])
def test_whole_numbers_are_bounded(value) -> None:
    with pytest.raises(fields.FieldError):
        fields.whole(value, default=1)


def test_json_problem_names_the_field_and_never_recurses() -> None:
    assert fields.json_problem({"a": [{"b": "ok"}, {"c": "x\x00"}]}) == ("a[1].c", "must not contain NUL characters")
    very_deep: list = []
    for _ in range(100_000):
        very_deep = [very_deep]
    assert fields.json_problem({"m": very_deep}, max_depth=32) is not None
    assert fields.json_problem({"fine": ["text", 1, None]}) is None


def test_output_encoding_cannot_fail_on_stored_surrogates() -> None:
    payload = {"k\ud800": "v\udfff", "n": Decimal("1.5")}
    assert loads(dumps(payload)) == {"k\ufffd": "v\ufffd", "n": Decimal("1.5")}
    assert loads(dumps_view(payload)) == {"k\ufffd": "v\ufffd", "n": Decimal("1.5")}
