"""`venice_video.__all__` is honest: every name exists, is public, and reads as the package's."""

from __future__ import annotations

import venice_video


def test_all_exports() -> None:
    for name in venice_video.__all__:
        assert hasattr(venice_video, name), name
    assert len(set(venice_video.__all__)) == len(venice_video.__all__)
    assert "VeniceVideo" in venice_video.__all__ and "AsyncVeniceVideo" in venice_video.__all__


def test_exported_classes_of_the_sdk_say_venice_video() -> None:
    own = ("_client", "_config", "_exceptions", "_models")
    for name in venice_video.__all__:
        member = getattr(venice_video, name)
        module = getattr(member, "__module__", "")
        assert not any(module == f"venice_video.{m}" for m in own), (name, module)


def test_dir_lists_the_exports() -> None:
    assert set(venice_video.__all__) <= set(dir(venice_video))
