"""The sandbox: every path stays inside the root, symlinks and `..` included."""

from __future__ import annotations

from pathlib import Path

import pytest

from venice_video.mcp_server._sandbox import Sandbox, SandboxError


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path / "root")


def test_root_is_created_and_resolved(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / "a" / "b")
    assert sandbox.root == (tmp_path / "a" / "b").resolve()
    assert sandbox.root.is_dir()


def test_default_output_goes_to_the_videos_folder(sandbox: Sandbox) -> None:
    assert sandbox.output_file(None, "m-1234.mp4") == sandbox.root / "videos" / "m-1234.mp4"


def test_output_without_suffix_gets_mp4_and_a_folder_gets_the_default_name(
    sandbox: Sandbox,
) -> None:
    (sandbox.root / "clips").mkdir()
    assert sandbox.output_file("take", "d.mp4") == sandbox.root / "take.mp4"
    assert sandbox.output_file("clips", "d.mp4") == sandbox.root / "clips" / "d.mp4"
    assert sandbox.output_file("new/", "d.mp4") == sandbox.root / "new" / "d.mp4"


def test_absolute_output_inside_the_root_is_accepted(sandbox: Sandbox) -> None:
    target = sandbox.root / "x.mp4"
    assert sandbox.output_file(str(target), "d.mp4") == target


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("/etc/x.mp4", "outside the allowed directory"),
        ("../x.mp4", "'..'"),
        ("a/../../x.mp4", "'..'"),
        ("a/../x.mp4", "'..'"),  # refused even though it would land inside
        ("x.mov", "not '.mov'"),
        ("", None),
    ],
)
def test_bad_outputs_are_refused(sandbox: Sandbox, output: str, reason: str | None) -> None:
    if reason is None:
        assert sandbox.output_file(output, "d.mp4").parent.name == "videos"
        return
    with pytest.raises(SandboxError) as caught:
        sandbox.output_file(output, "d.mp4")
    assert reason in caught.value.reason
    assert caught.value.field == "output" and caught.value.fix


def test_symlinked_folder_leading_outside_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (sandbox.root / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(SandboxError, match="symlink"):
        sandbox.output_file("link/x.mp4", "d.mp4")


def test_symlinked_file_leading_outside_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "victim.mp4").write_bytes(b"x")
    (sandbox.root / "out.mp4").symlink_to(tmp_path / "victim.mp4")
    with pytest.raises(SandboxError, match="symlink"):
        sandbox.output_file("out.mp4", "d.mp4", overwrite=True)


def test_symlink_inside_the_root_is_followed(sandbox: Sandbox) -> None:
    (sandbox.root / "real").mkdir()
    (sandbox.root / "alias").symlink_to(sandbox.root / "real", target_is_directory=True)
    assert sandbox.output_file("alias/x.mp4", "d.mp4") == sandbox.root / "real" / "x.mp4"


def test_existing_output_needs_overwrite_and_a_taken_one_is_refused(sandbox: Sandbox) -> None:
    (sandbox.root / "x.mp4").write_bytes(b"x")
    with pytest.raises(SandboxError, match="already exists"):
        sandbox.output_file("x.mp4", "d.mp4")
    assert sandbox.output_file("x.mp4", "d.mp4", overwrite=True) == sandbox.root / "x.mp4"
    with pytest.raises(SandboxError, match="another job"):
        sandbox.output_file("y.mp4", "d.mp4", taken={sandbox.root / "y.mp4"})


def test_media_urls_pass_through_and_paths_must_exist_inside(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    (sandbox.root / "in.png").write_bytes(b"png")
    (tmp_path / "secret.png").write_bytes(b"png")
    assert sandbox.media("https://example.com/a.png", "image") == "https://example.com/a.png"
    assert str(sandbox.media("data:image/png;base64,AAAA", "image")).startswith("data:")
    assert sandbox.media("in.png", "image") == sandbox.root / "in.png"
    for value, reason in (
        (str(tmp_path / "secret.png"), "outside"),
        ("missing.png", "no file"),
        ("file:///etc/passwd", "file: URLs"),
        ("~/in.png", "no file"),  # no home expansion: it names a file under the root
        ("a\x00b", "malformed"),
    ):
        with pytest.raises(SandboxError, match=reason):
            sandbox.media(value, "image")


def test_show_is_relative_inside_the_root_and_absolute_outside(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    assert sandbox.show(sandbox.root / "videos" / "a.mp4") == "videos/a.mp4"
    assert sandbox.show(tmp_path / "a.mp4") == str(tmp_path / "a.mp4")
    assert sandbox.contains(sandbox.root / "x") and not sandbox.contains(tmp_path)
