"""Strict JSON parsing of request bodies and size-bounded error bodies (unit level)."""

from __future__ import annotations

import json

import pytest

from venice_video.server._json import MAX_ERROR_BODY, StrictJSONError, dumps, dumps_error, loads


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b'{"a":NaN}', "NaN"), (b"[Infinity]", "Infinity"), (b"-Infinity", "-Infinity"),
     (b'{"a":1e400}', "too large"), (b"-1e309", "too large"), (b"1" + b"0" * 309, "too large"),
     (b'{"a":"x\\ud800"}', "surrogate"), (b'{"\\udc00":1}', "surrogate"),
     (b'[[["\\uDBFF"]]]', "surrogate")],
)  # fmt: skip
def test_loads_refuses_what_only_a_lenient_parser_takes(raw: bytes, message: str) -> None:
    with pytest.raises(StrictJSONError, match=message):
        loads(raw)


def test_loads_refuses_encoded_surrogates_as_invalid_utf8() -> None:
    with pytest.raises(UnicodeDecodeError):
        loads(b'"\xed\xa0\x80"')


@pytest.mark.parametrize(
    ("raw", "value"),
    [(b'"\\ud83c\\udfee"', "\U0001f3ee"), (b"1e308", 1e308), (b"9" * 308, int("9" * 308)),
     (b'{"a":[1,2.5,"\\\\ud800"]}', {"a": [1, 2.5, "\\ud800"]}), (b"-0.0", -0.0)],
)  # fmt: skip
def test_loads_keeps_everything_strict_json_allows(raw: bytes, value: object) -> None:
    assert loads(raw) == value


def test_error_bodies_cut_long_strings_and_stay_small() -> None:
    body = dumps_error({"error": "x" * 10_000_000, "issues": [{"received": "y" * 1000}] * 5000})
    assert len(body) < MAX_ERROR_BODY
    parsed = json.loads(body)
    assert parsed["error"].startswith("x" * 100) and "10,000,000 characters" in parsed["error"]
    assert parsed["issues"][-1].startswith("...")


def test_error_bodies_never_carry_nan_or_lone_surrogates() -> None:
    body = dumps_error({"error": "bad \ud800", "received": float("nan"), "n": float("inf")})

    def refuse(name: str) -> object:
        raise AssertionError(name)

    parsed = json.loads(body.decode("utf-8"), parse_constant=refuse)
    assert parsed == {"error": "bad ?", "received": "nan", "n": "inf"}


def test_a_body_that_cannot_be_bounded_falls_back_to_its_message() -> None:
    def tree(depth: int) -> object:
        return "v" * 200 if depth == 0 else {f"k{i}": tree(depth - 1) for i in range(10)}

    body = {"error": "Invalid request parameters", "code": "X", "details": tree(5)}
    assert json.loads(dumps_error(body)) == {"error": "Invalid request parameters", "code": "X"}


def test_success_bodies_are_written_whole() -> None:
    assert (
        dumps({"quote": 0.25, "s": "é" * 1000})
        == ('{"quote":0.25,"s":"' + "é" * 1000 + '"}').encode()
    )
    with pytest.raises(ValueError):
        dumps({"x": float("nan")})
