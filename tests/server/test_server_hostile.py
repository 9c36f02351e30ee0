"""Hostile input, generated: whatever arrives, the server answers without a 5xx.

Property-based (hypothesis) over real HTTP against one server: JSON bodies that break the
rules (NaN, Infinity, numbers past the double range, lone surrogates, deep nesting, huge
strings, unknown keys, wrong types), bytes that are not JSON or not UTF-8, odd headers, ranges,
tokens, paths and methods. For every answer:

- the status is below 500;
- an error's body is strict JSON (valid UTF-8, no NaN or Infinity, no lone surrogate) under
  64 KiB;
- a refused request takes no money from the account that sent it.

Outside URLs cannot leave the machine: the server's fetcher gets a resolver that refuses every
name and a transport that answers 404 to every address.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _server_helpers import INLINE_BODY, VPS_BODY, VPS_MODEL, offline
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from venice_video.server import ManualClock, ServerConfig, ServerThread
from venice_video.server import _stt as stt

MAX_ERROR_BODY = 64 * 1024
STARTING = "100.000000"
SETTINGS = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- the server -------------------------------------------------------------------------


class Target:
    """The server under attack, with a ready download_url to aim ranges at."""

    def __init__(self, server: ServerThread, download_url: str) -> None:
        self.server = server
        self.download_url = download_url
        self.http = httpx.Client(timeout=120)

    def balance(self, key: str) -> str:
        response = self.http.get(
            f"{self.server.base_url}/models",
            params={"type": "video"},
            headers={"Authorization": f"Bearer {key}"},
        )
        return response.headers["x-venice-balance-usd"]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    clock = ManualClock()
    # One job renders at a time and the clock only moves when told: valid jobs that the
    # generator happens to queue cost no CPU beyond one render.
    config = ServerConfig(data_dir=tmp_path_factory.mktemp("hostile"), default_capacity=1)
    with ServerThread(config, clock=clock) as server:
        offline(server)
        headers = {"Authorization": "Bearer hostile-setup"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as http:
            job = http.post("/video/queue", json=VPS_BODY).json()
            deadline = time.monotonic() + 60
            while not any(j["rendered"] for j in http.get(f"{server.root_url}/_local/jobs")
                          .json()["data"]):  # fmt: skip
                assert time.monotonic() < deadline, "the setup job did not render"
                time.sleep(0.05)
            clock.advance(3600)
            done = http.post("/video/retrieve", json={"model": VPS_MODEL,
                                                      "queue_id": job["queue_id"]})  # fmt: skip
            assert done.json()["status"] == "COMPLETED"
        target = Target(server, job["download_url"])
        yield target
        target.http.close()


# --- checks -------------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise AssertionError(f"non-standard JSON constant {name} in an error body")


def _no_surrogates(value: Any) -> None:
    if isinstance(value, str):
        assert not any(0xD800 <= ord(c) <= 0xDFFF for c in value), "lone surrogate in a body"
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_surrogates(key)
            _no_surrogates(item)
    elif isinstance(value, list):
        for item in value:
            _no_surrogates(item)


def check(response: httpx.Response, target: Target, key: str | None) -> None:
    """The properties every answer must have (see the module docstring)."""
    request = response.request
    where = f"{request.method} {request.url.path}"
    allowed_5xx = {501} if not stt.is_available() else set()
    assert response.status_code < 500 or response.status_code in allowed_5xx, (
        where,
        response.status_code,
        response.text[:300],
    )
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json"), where
        if request.method == "HEAD":  # the headers of the error, without its body
            assert int(response.headers["content-length"]) < MAX_ERROR_BODY, where
            return
        assert len(response.content) < MAX_ERROR_BODY, (where, len(response.content))
        body = json.loads(response.content.decode("utf-8"), parse_constant=_no_constant)
        _no_surrogates(body)
        assert isinstance(body, dict) and "error" in body, where
        if key is not None:
            assert target.balance(key) == STARTING, f"{where} refused but charged"


# --- strategies ---------------------------------------------------------------------------

SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
ODD_TEXT = st.text(
    alphabet=st.one_of(st.characters(codec=None), SURROGATES, st.sampled_from("\x00\u202e\ufeff")),
    max_size=40,
)
STRINGS = st.one_of(
    ODD_TEXT,
    st.sampled_from(["", " ", "auto", "-1", "5s", "16:9", "../../etc/passwd", "%00", "data:",
                     "data:image/png;base64,", "http://", "http://[::1]/", "file:///etc/passwd",
                     "http://169.254.169.254/latest", "http://127.0.0.1:1/x.png"]),
    st.integers(1, 6).map(lambda n: "x" * 10**n),
)  # fmt: skip
NUMBERS = st.one_of(
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([10**300, -(10**300), 10**400, 1e308, -1e308, 5e-324, 0, -0.0]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, STRINGS)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(ODD_TEXT, inner, max_size=5)
    ),
    max_leaves=20,
)
QUEUE_FIELDS = [
    "model", "prompt", "negative_prompt", "duration", "aspect_ratio", "resolution",
    "upscale_factor", "audio", "image_url", "end_image_url", "audio_url", "video_url",
    "reference_image_urls", "reference_video_urls", "elements", "scene_image_urls", "keyframes",
    "consents", "omni_reference_task_type", "bitrate_mode", "reference_video_total_duration",
]  # fmt: skip
UPSCALE_BODY = {"model": "topaz-video-upscale", "upscale_factor": 2, "video_url": "data:,"}
BASES = [INLINE_BODY, VPS_BODY, UPSCALE_BODY,
         {"model": "seedance-2-5-reference-to-video-basic", "duration": "auto",
          "reference_video_total_duration": 5}]  # fmt: skip


@st.composite
def video_bodies(draw: st.DrawFn) -> Any:
    """A valid body with some fields made hostile, or anything at all."""
    if draw(st.integers(0, 4)) == 0:
        return draw(VALUES)
    body = dict(draw(st.sampled_from(BASES)))
    # The fields every handler reads (and echoes in errors) come up most often.
    fields = st.sampled_from(["model", "duration", "prompt", "resolution"] * 4 + QUEUE_FIELDS)
    for name in draw(st.lists(fields, min_size=1, max_size=3)):
        body[name] = draw(st.one_of(SCALARS, VALUES))
    if draw(st.booleans()):
        body[draw(ODD_TEXT)] = draw(VALUES)
    return body


def encode(value: Any) -> bytes:
    """JSON as a lenient encoder writes it: NaN and Infinity raw, lone surrogates escaped."""
    return json.dumps(value).encode()


RAW_BODIES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([
        b"", b"null", b"[]", b"{", b'{"model":', b"[" * 100_000, b'{"a":' * 50_000,
        b"\xef\xbb\xbf{}", '{"model":"x"}'.encode("utf-16"), b'{"model":"\xed\xa0\x80"}',
        b'{"model":"\\ud800\\u0000"}', b'{"model":1e999999}', b"-" + b"9" * 5000,
        b'{"model":"' + b"\\u0041" * 100_000 + b'"}', b'{"__proto__":{"x":1}}',
    ]),
)  # fmt: skip
HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=60,
).map(lambda s: s.strip().encode("latin-1"))
ODD_AUTH = [b"Bearer", b"Bearer \t x", b"bearer x", b"Basic abc", b"Bearer " + b"k" * 600]
JSON_PATHS = ["/video/quote", "/video/queue", "/video/retrieve", "/video/complete",
              "/video/transcriptions"]  # fmt: skip


def _key() -> str:
    return f"hostile-{uuid.uuid4().hex}"


# --- properties ---------------------------------------------------------------------------


@settings(SETTINGS, max_examples=300)
@given(path=st.sampled_from(JSON_PATHS[:4]), body=video_bodies(), keyed=st.booleans())
# Known attacks always run, whatever the generator finds.
@example(path="/video/quote", body={"model": "\ud800", "duration": "5s"}, keyed=False)
@example(path="/video/queue", body={**INLINE_BODY, "duration": "\udfff"}, keyed=True)
@example(path="/video/queue", body={**INLINE_BODY, "prompt": "a \ud800 b"}, keyed=False)
@example(path="/video/quote", body={**BASES[3], "reference_video_total_duration": 1e308},
         keyed=False)  # fmt: skip
@example(path="/video/quote", body={**BASES[3], "reference_video_total_duration": float("nan")},
         keyed=False)  # fmt: skip
@example(path="/video/queue", body={**UPSCALE_BODY, "upscale_factor": float("inf")}, keyed=False)
@example(path="/video/queue", body={**INLINE_BODY, "omni_reference_task_type": []}, keyed=False)
@example(path="/video/queue", body={**INLINE_BODY, "model": "m" * 1_000_000}, keyed=False)
def test_hostile_json_bodies(target: Target, path: str, body: Any, keyed: bool) -> None:
    key = _key()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if keyed:
        headers["Idempotency-Key"] = "hostile"
    response = target.http.post(
        f"{target.server.base_url}{path}", content=encode(body), headers=headers
    )
    check(response, target, key)


@settings(SETTINGS, max_examples=200)
@given(
    path=st.sampled_from(JSON_PATHS[:4] + ["/audio/transcriptions", "/models"]),
    raw=RAW_BODIES,
    content_type=st.one_of(st.none(), HEADER_TEXT,
                           st.sampled_from([b"application/json", b"multipart/form-data",
                                            b"multipart/form-data; boundary=x"])),
    idempotency=st.one_of(st.none(), HEADER_TEXT),
    auth=st.one_of(st.none(), HEADER_TEXT, st.sampled_from(ODD_AUTH)),
)  # fmt: skip
@example(path="/video/quote", raw=b'{"model":"\\ud800"}', content_type=None, idempotency=None,
         auth=None)  # fmt: skip
@example(path="/video/quote", raw=b'{"model":"\xed\xa0\x80"}', content_type=None,
         idempotency=None, auth=None)  # fmt: skip
def test_hostile_bytes_and_headers(
    target: Target,
    path: str,
    raw: bytes,
    content_type: bytes | None,
    idempotency: bytes | None,
    auth: bytes | None,
) -> None:
    key = _key()
    headers: dict[str, bytes] = {"Authorization": auth or f"Bearer {key}".encode()}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if idempotency is not None:
        headers["Idempotency-Key"] = idempotency
    try:
        response = target.http.post(f"{target.server.base_url}{path}", content=raw, headers=headers)
    except httpx.LocalProtocolError:
        return  # a header no HTTP client may send
    check(response, target, key if auth is None else None)


@settings(SETTINGS, max_examples=200)
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "OPTIONS", "DELETE"]),
    where=st.one_of(
        st.just("media"),
        st.sampled_from(["/api/v1/models", "/api/v1/video/queue", "/_local/stats",
                         "/_local/jobs", "/api/v1/../../etc/passwd"]),
        st.text(alphabet="abc/.%-_~", max_size=30).map(lambda s: "/api/v1/" + s),
        HEADER_TEXT.map(lambda b: "/media/" + b.decode("latin-1").replace("?", "")),
    ),
    range_header=st.one_of(st.none(), HEADER_TEXT,
                           st.tuples(st.integers(0, 10**30), st.integers(0, 10**5000 // 10**4990))
                           .map(lambda t: f"bytes={t[0]}-{t[1]}".encode()),
                           st.integers(0, 5000).map(lambda n: b"bytes=" + b"9" * n + b"-"),
                           st.integers(0, 5000).map(lambda n: b"bytes=-" + b"9" * n)),
    query=st.dictionaries(st.sampled_from(["type", "x"]), ODD_TEXT.filter(str.isprintable),
                          max_size=2),
)  # fmt: skip
@example(method="GET", where="media", range_header=b"bytes=" + b"9" * 5000 + b"-", query={})
@example(method="GET", where="media", range_header=b"bytes=-" + b"9" * 5000, query={})
def test_hostile_paths_ranges_and_queries(
    target: Target,
    method: str,
    where: str,
    range_header: bytes | None,
    query: dict[str, str],
) -> None:
    if where == "media":
        url = target.download_url
        if method == "DELETE":
            method = "GET"  # keep the shared download_url alive
    else:
        url = f"{target.server.root_url}{where}"
    key = _key()
    headers: dict[str, bytes] = {"Authorization": f"Bearer {key}".encode()}
    if range_header is not None:
        headers["Range"] = range_header
    try:
        request = target.http.build_request(method, url, headers=headers, params=query)
        response = target.http.send(request)
    except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError):
        return  # not something an HTTP client can send
    check(response, target, key)


@pytest.mark.stt
@settings(SETTINGS, max_examples=20)
@given(url=st.one_of(STRINGS, st.sampled_from([
    "http://[2002:7f00:1::]/a.mp4", "http://[::ffff:127.0.0.1]/a", "http://127.0.0.1:1/a",
    "http://8.8.8.8/a.mp4", "https://media.example/v.mp4", "http://user:pw@host.example/a",
    "http://" + "a" * 300 + ".example/", "https://x.example/\U0001f3ac.mp4"])),
    response_format=st.one_of(st.none(), STRINGS))  # fmt: skip
def test_hostile_transcription_urls(target: Target, url: str, response_format: Any) -> None:
    key = _key()
    body: dict[str, Any] = {"url": url}
    if response_format is not None:
        body["response_format"] = response_format
    response = target.http.post(
        f"{target.server.base_url}/video/transcriptions",
        content=encode(body),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    check(response, target, key)
