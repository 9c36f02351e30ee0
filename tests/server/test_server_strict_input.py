"""Hostile values that used to crash the server or come back amplified, through real HTTP.

Every error here must be a 4xx whose body is strict JSON (no NaN, no lone surrogates, valid
UTF-8) under 64 KiB, and a refused request must not move money.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _server_helpers import INLINE_BODY, INLINE_MODEL, VPS_BODY, VPS_MODEL, queue, wait_done

from venice_video.server import ServerThread

MAX_ERROR_BODY = 64 * 1024
#: The start of a JSON body naming a real model: `MODEL + b'", ...}'`.
MODEL = b'{"model":"' + INLINE_MODEL.encode()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def strict_json(response: httpx.Response) -> Any:
    """The body parsed as strict JSON: UTF-8, no NaN/Infinity, no lone surrogates."""
    text = response.content.decode("utf-8")  # strict: surrogates cannot be encoded in UTF-8
    return json.loads(text, parse_constant=_refuse_constant)


def assert_refused(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    assert len(response.content) < MAX_ERROR_BODY
    body: dict[str, Any] = strict_json(response)
    assert "error" in body
    return body


def balance(client: httpx.Client) -> str:
    return client.get("/models", params={"type": "video"}).headers["x-venice-balance-usd"]


def post_raw(client: httpx.Client, path: str, raw: bytes, **kw: Any) -> httpx.Response:
    return client.post(path, content=raw, headers={"Content-Type": "application/json"}, **kw)


# --- 500s --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def download_url(server: ServerThread) -> str:
    headers = {"Authorization": "Bearer strict-input-tests"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        job = queue(client, VPS_BODY)
        assert wait_done(client, VPS_MODEL, job["queue_id"]).json()["status"] == "COMPLETED"
        url: str = job["download_url"]
        return url


HUGE = "9" * 5000


def test_a_range_starting_past_any_file_is_416(download_url: str) -> None:
    response = httpx.get(download_url, headers={"Range": f"bytes={HUGE}-"})
    assert_refused(response, 416)
    size = len(httpx.get(download_url).content)
    assert response.headers["content-range"] == f"bytes */{size}"


@pytest.mark.parametrize("header", [f"bytes=0-{HUGE}", f"bytes=-{HUGE}", f"bytes=000{HUGE}0-"])
def test_huge_range_numbers_never_crash(download_url: str, header: str) -> None:
    whole = httpx.get(download_url).content
    response = httpx.get(download_url, headers={"Range": header})
    if header.endswith("-"):
        assert_refused(response, 416)
    else:
        # A last position or suffix past the end means "to the end": the whole file.
        assert response.status_code == 206
        assert response.content == whole


SURROGATE = b'"\\ud800"'
SURROGATE_BODIES = [
    ("/video/quote", b'{"model":' + SURROGATE + b',"duration":"5s"}'),
    ("/video/quote", MODEL + b'","duration":' + SURROGATE + b"}"),
    ("/video/queue", b'{"model":' + SURROGATE + b',"prompt":"a cat"}'),
    (
        "/video/queue",
        MODEL + b'","prompt":"a cat","duration":' + SURROGATE + b',"resolution":"480p"}',
    ),  # fmt: skip
    (
        "/video/queue",
        MODEL + b'","prompt":"a cat","aspect_ratio":"\\udfff16:9"}',
    ),  # fmt: skip
    (
        "/video/queue",
        MODEL + b'","prompt":"a cat","\\ud83dkey":1}',
    ),  # fmt: skip
    ("/video/retrieve", b'{"model":' + SURROGATE + b',"queue_id":"x"}'),
    ("/video/complete", b'{"model":"m","queue_id":' + SURROGATE + b"}"),
    ("/video/transcriptions", b'{"url":"https://a.example/\\ud800"}'),
]


@pytest.mark.parametrize(("path", "raw"), SURROGATE_BODIES)
def test_a_lone_surrogate_anywhere_is_a_400(client: httpx.Client, path: str, raw: bytes) -> None:
    before = balance(client)
    body = assert_refused(post_raw(client, path, raw))
    assert "surrogate" in json.dumps(body)
    assert balance(client) == before


@pytest.mark.parametrize(
    ("value", "blamed"),
    [(b"1e308", "reference_video_total_duration"), (b"1e9", "reference_video_total_duration"),
     (b"150.5", "reference_video_total_duration"), (b"1" + b"0" * 300, "reference_video_total"),
     (b"Infinity", "JSON"), (b"1e400", "JSON"), (b"1" + b"0" * 400, "JSON")],
)  # fmt: skip
def test_reference_video_total_duration_out_of_range_is_a_400(
    client: httpx.Client, value: bytes, blamed: str
) -> None:
    raw = (b'{"model":"seedance-2-5-reference-to-video-basic","duration":"auto",'
           b'"reference_video_total_duration":' + value + b"}")  # fmt: skip
    body = assert_refused(post_raw(client, "/video/quote", raw))
    assert blamed in json.dumps(body)


def test_reference_video_total_duration_up_to_150_s_is_quoted(client: httpx.Client) -> None:
    raw = (b'{"model":"seedance-2-5-reference-to-video-basic","duration":"auto",'
           b'"reference_video_total_duration":150}')  # fmt: skip
    response = post_raw(client, "/video/quote", raw)
    assert response.status_code == 200, response.text
    assert response.json()["quote"] > 0


# --- non-standard JSON ---------------------------------------------------------------------


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400"])
@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/video/quote", b'{"model":"seedance-2-5-reference-to-video-basic","duration":"auto",'
                         b'"reference_video_total_duration":%s}'),
        ("/video/quote", MODEL + b'","duration":"5s","audio":%s}'),
        ("/video/queue", b'{"model":"topaz-video-upscale","upscale_factor":%s}'),
        ("/video/queue", MODEL + b'","prompt":"x","duration":%s}'),
        ("/video/retrieve", b'{"model":"m","queue_id":%s}'),
    ],
)  # fmt: skip
def test_non_standard_json_numbers_are_refused_and_never_echoed(
    client: httpx.Client, path: str, template: bytes, constant: bytes
) -> None:
    before = balance(client)
    body = assert_refused(post_raw(client, path, template % constant))
    assert body["issues"][0]["code"] == "invalid_json"
    assert balance(client) == before


# --- a lone surrogate in the prompt is refused before money moves --------------------------


def test_a_lone_surrogate_in_the_prompt_is_refused_at_queue(
    client: httpx.Client, server: ServerThread
) -> None:
    before = balance(client)
    raw = json.dumps({**INLINE_BODY, "prompt": "a lighthouse \ud800 at dusk"}).encode()
    assert b"\\ud800" in raw
    assert_refused(post_raw(client, "/video/queue", raw))
    assert balance(client) == before
    stats = httpx.get(f"{server.root_url}/_local/stats", headers=client.headers).json()
    assert stats["jobs_total"] == 0


def test_a_valid_surrogate_pair_is_an_ordinary_character(client: httpx.Client) -> None:
    raw = json.dumps({**INLINE_BODY, "prompt": "a lighthouse \U0001f3ee at dusk"}).encode()
    assert b"\\ud83c\\udfee" in raw
    assert post_raw(client, "/video/queue", raw).status_code == 200


# --- error bodies do not amplify their input -----------------------------------------------


@pytest.mark.parametrize("path", ["/video/quote", "/video/queue", "/video/retrieve"])
def test_a_huge_value_is_echoed_only_in_short(server: ServerThread, path: str) -> None:
    # Just under the 1 MiB limit of retrieve bodies; quote and queue take 35 MB.
    big = "m" * (1_000_000 if path == "/video/retrieve" else 5_000_000)
    body = {"model": big, "duration": "5s", "prompt": "x", "queue_id": "q" * 40}
    if path != "/video/queue":
        body.pop("prompt")
    if path != "/video/retrieve":
        body.pop("queue_id")
    headers = {"Authorization": "Bearer amplification"} if path != "/video/quote" else {}
    response = httpx.post(f"{server.base_url}{path}", json=body, headers=headers, timeout=60)
    assert response.status_code in (400, 404)
    assert len(response.content) < 4 * 1024
    strict_json(response)


def test_many_invalid_fields_give_a_bounded_error(client: httpx.Client) -> None:
    body = {**INLINE_BODY, **{f"extra_{i}": "v" * 1000 for i in range(3000)}}
    body["reference_image_urls"] = ["ftp://x" * 200] * 5000
    response = client.post("/video/queue", json=body)
    assert_refused(response)


# --- the body limit ------------------------------------------------------------------------


@pytest.fixture
def limit_client(server: ServerThread, auth_headers: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers=auth_headers, timeout=120) as http:
        yield http


def _padded(size: int) -> bytes:
    head = MODEL + b'","duration":"5s"'
    return head + b" " * (size - len(head) - 1) + b"}"


def test_the_35_mb_body_limit_is_35_000_000_bytes(limit_client: httpx.Client) -> None:
    exact = post_raw(limit_client, "/video/quote", _padded(35_000_000))
    assert exact.status_code == 200, exact.text[:300]
    over = post_raw(limit_client, "/video/quote", _padded(35_000_001))
    body = assert_refused(over, 413)
    assert body["code"] == "PAYLOAD_TOO_LARGE"
    assert "35 MB" in body["error"]


def test_the_body_limit_holds_for_chunked_bodies(limit_client: httpx.Client) -> None:
    raw = _padded(35_000_001)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(raw), 1_000_000):
            yield raw[i : i + 1_000_000]

    response = limit_client.post(
        "/video/quote", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert assert_refused(response, 413)["code"] == "PAYLOAD_TOO_LARGE"


def test_the_audio_upload_limit_is_25_000_000_bytes(limit_client: httpx.Client) -> None:
    files = {"file": ("a.wav", b"\0" * 25_000_001, "audio/wav")}
    body = assert_refused(limit_client.post("/audio/transcriptions", files=files), 413)
    assert "25 MB" in body["error"]
