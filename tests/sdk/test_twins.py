"""The sync and async clients must not drift apart: same methods, parameters and docstrings."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from venice_video import AsyncVeniceVideo, VeniceVideo, _async_client, _client, _stories

# Only these differ, by design (the `a` prefix where a sync name or protocol would clash).
RENAMED = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}
# The constructors differ in the types of the sleep, transport and http client only.
CONSTRUCTOR_TYPES_DIFFER = {"sleep", "transport", "http_client"}


def public_methods(cls: type) -> dict[str, object]:
    """The public methods of a twin, its mixins' included (`models_by_price`, ...)."""
    found: dict[str, object] = {}
    for klass in reversed([k for k in cls.__mro__ if k.__module__.startswith("venice_video")]):
        found.update(
            (name, member)
            for name, member in vars(klass).items()
            if callable(member)
            and (not name.startswith("_") or name in RENAMED or name in RENAMED.values())
        )
    return found


def test_every_public_method_has_an_async_twin() -> None:
    sync = public_methods(VeniceVideo)
    twins = public_methods(AsyncVeniceVideo)
    expected = {RENAMED.get(name, name) for name in sync}
    assert expected == set(twins)


@pytest.mark.parametrize("name", sorted(n for n in public_methods(VeniceVideo) if n not in RENAMED))
def test_twins_share_parameters_and_docstrings(name: str) -> None:
    sync = getattr(VeniceVideo, name)
    twin = getattr(AsyncVeniceVideo, name)
    assert inspect.iscoroutinefunction(twin), f"AsyncVeniceVideo.{name} must be async"
    assert not inspect.iscoroutinefunction(sync)
    sync_sig = inspect.signature(sync, eval_str=False)
    twin_sig = inspect.signature(twin, eval_str=False)
    assert list(sync_sig.parameters) == list(twin_sig.parameters)
    for param, other in zip(
        sync_sig.parameters.values(), twin_sig.parameters.values(), strict=True
    ):
        assert (param.kind, param.default) == (other.kind, other.default), param.name
        assert param.annotation == other.annotation, param.name
    assert inspect.getdoc(sync) == inspect.getdoc(twin)
    assert inspect.getdoc(sync), f"VeniceVideo.{name} needs a docstring"


def test_constructors_take_the_same_arguments() -> None:
    sync = inspect.signature(VeniceVideo.__init__).parameters
    twin = inspect.signature(AsyncVeniceVideo.__init__).parameters
    assert list(sync) == list(twin)
    for name in sync:
        assert sync[name].default == twin[name].default, name
        if name not in CONSTRUCTOR_TYPES_DIFFER:
            assert sync[name].annotation == twin[name].annotation, name


def test_the_twins_differ_only_by_async_and_await() -> None:
    """The text of each async method, with `async`/`await` removed, is its sync twin's."""
    sync_text = _class_methods_text(Path(_client.__file__).read_text(), "class VeniceVideo(")
    async_text = _class_methods_text(
        Path(_async_client.__file__).read_text(), "class AsyncVeniceVideo("
    )
    for name in public_methods(VeniceVideo):
        if name in RENAMED or name in ("resume", "jobs"):
            continue  # the thread pool and task group drivers differ, by design
        if name not in sync_text:
            continue  # a mixin's method: its module's own twins test covers its text
        a = _normalise(async_text[name])
        assert a == _normalise(sync_text[name]), name


def test_the_story_twins_differ_only_by_async_and_await() -> None:
    source = Path(_stories.__file__).read_text()
    sync_text = _class_methods_text(source, "class StoryMethods:")
    async_text = _class_methods_text(source, "class AsyncStoryMethods:")
    assert set(sync_text) == set(async_text) == {"render_story"}
    normalised = _normalise(sync_text["render_story"]).replace('"VeniceVideo"', "CLIENT")
    twin = _normalise(async_text["render_story"]).replace('"AsyncVeniceVideo"', "CLIENT")
    assert normalised == twin


def _class_methods_text(source: str, header: str) -> dict[str, str]:
    start = source.index(header)
    end = source.find("\nclass ", start + 1)
    body = source[start : end if end != -1 else len(source)]
    methods: dict[str, str] = {}
    current: str | None = None
    lines: list[str] = []
    for line in body.splitlines():
        stripped = line.strip()
        if line.startswith(("    def ", "    async def ")):
            if current:
                methods[current] = "\n".join(lines)
            current = stripped.split("def ", 1)[1].split("(", 1)[0]
            lines = [line]
        elif line.startswith("    @overload"):
            continue
        elif current:
            lines.append(line)
    if current:
        methods[current] = "\n".join(lines)
    return methods


def _normalise(text: str) -> str:
    text = text.replace("async def ", "def ").replace("await ", "")
    text = text.replace("anyio.to_thread.run_sync(self._job_of, job)", "self._job_of(job)")
    # Line wrapping follows line length, which `await` changes: compare the tokens only.
    text = "".join(text.split())
    return text.replace(",)", ")").replace(",]", "]")
