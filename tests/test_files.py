"""Tests for microgradlike.files: atomic writes that keep a file's mode, follow links, name the
user's path in errors, fit long names, and clean up what a killed process left."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from microgradlike.files import check_path, check_writable, same_file, write_atomically

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes, links and signals are POSIX")
not_root = pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                              reason="root may write anywhere, whatever the permission bits say")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask():
    """Set a umask for one test, and restore the old one."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


@posix_only
@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077, 0o002])
def test_a_new_file_honours_the_umask(tmp_path, umask, mask):
    umask(mask)
    write_atomically(tmp_path / "new.json", "{}")
    assert mode(tmp_path / "new.json") == 0o666 & ~mask


@posix_only
@pytest.mark.parametrize("existing_mode", [0o600, 0o640, 0o664, 0o755])
def test_an_existing_file_keeps_its_mode(tmp_path, umask, existing_mode):
    umask(0o022)
    path = tmp_path / "model.json"
    path.write_text("old")
    path.chmod(existing_mode)
    write_atomically(path, "new")
    assert path.read_text() == "new"
    assert mode(path) == existing_mode


@posix_only
def test_saving_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    real_dir = tmp_path / "models"
    real_dir.mkdir()
    target = real_dir / "model.json"
    target.write_text("old")
    target.chmod(0o600)
    link = tmp_path / "current.json"
    link.symlink_to(os.path.relpath(target, tmp_path))
    write_atomically(link, "new")
    assert link.is_symlink() and os.readlink(link) == os.path.relpath(target, tmp_path)
    assert target.read_text() == "new" and mode(target) == 0o600
    assert sorted(p.name for p in real_dir.iterdir()) == ["model.json"]


@posix_only
def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to("target.json")
    write_atomically(link, "x")
    assert link.is_symlink() and (tmp_path / "target.json").read_text() == "x"


@pytest.mark.parametrize("length", [200, 241, 250, 255])
def test_long_names_up_to_255_characters_can_be_saved(tmp_path, length):
    path = tmp_path / ("m" * (length - 5) + ".json")
    write_atomically(path, "first")
    write_atomically(path, "second")
    assert path.read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_long_names_of_multibyte_characters_are_cut_at_a_character(tmp_path):
    path = tmp_path / ("é" * 125 + ".json")  # 255 bytes in UTF-8
    write_atomically(path, "x")
    assert path.read_text() == "x" and len(list(tmp_path.iterdir())) == 1


@posix_only
@pytest.mark.parametrize("path", ["/proc/model.json", "/proc/self/model.json"])
def test_errors_name_the_users_path_not_the_temporary_file(path):
    with pytest.raises(OSError) as info:
        write_atomically(path, "x")
    assert info.value.filename == path and path in str(info.value)
    assert ".tmp" not in str(info.value) and "~" not in str(info.value)


@posix_only
@not_root
def test_a_read_only_folder_names_the_users_path(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError) as info:
            write_atomically(folder / "m.json", "x")
        assert info.value.filename == str(folder / "m.json") and ".tmp" not in str(info.value)
        with pytest.raises(PermissionError):
            check_writable(folder / "m.json")
    finally:
        folder.chmod(0o755)


@posix_only
@pytest.mark.parametrize("read_only_mode", [0o444, 0o400, 0o555, 0o000])
@pytest.mark.parametrize("write", [write_atomically, lambda path, _: check_writable(path)])
def test_a_read_only_file_is_not_replaced_even_by_root(tmp_path, read_only_mode, write):
    """Decided by the permission bits: os.access says root may write anything (and the tests run
    as root in the container, where the file used to be replaced)."""
    path = tmp_path / "m.json"
    path.write_text("keep")
    path.chmod(read_only_mode)
    with pytest.raises(PermissionError, match="read-only") as info:
        write(path, "x")
    assert info.value.filename == str(path)
    assert path.read_text() == "keep" and mode(path) == read_only_mode
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


@posix_only
@pytest.mark.parametrize(("file_mode", "owner", "group", "read_only"), [
    (0o644, True, False, False), (0o444, True, False, True), (0o464, True, True, True),
    (0o464, False, True, False), (0o644, False, True, True), (0o646, False, False, False),
    (0o664, False, False, True),
])
def test_for_a_user_other_than_root_the_bits_of_their_class_decide(tmp_path, monkeypatch, file_mode, owner,
                                                                   group, read_only):
    """The kernel reads the owner's bits for the owner, the group's for the group, else the others'."""
    if os.geteuid() != 0:
        pytest.skip("only root can give a file to another user")
    path = tmp_path / "m.json"
    path.write_text("keep")
    os.chown(path, 4242, 4242)
    path.chmod(file_mode)
    monkeypatch.setattr(os, "geteuid", lambda: 4242 if owner else 4243)  # as whom the check runs
    monkeypatch.setattr(os, "getegid", lambda: 4242 if group else 4243)
    monkeypatch.setattr(os, "getgroups", lambda: [])
    if read_only:
        with pytest.raises(PermissionError, match="read-only"):
            check_writable(path)
    else:
        check_writable(path)
    assert path.read_text() == "keep"


@posix_only
def test_root_still_writes_a_writable_file_of_another_user_and_keeps_its_owner(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root can give a file to another user")
    path = tmp_path / "m.json"
    path.write_text("old")
    os.chown(path, 4242, 4242)
    path.chmod(0o640)
    write_atomically(path, "new")
    assert path.read_text() == "new" and mode(path) == 0o640
    assert (path.stat().st_uid, path.stat().st_gid) == (4242, 4242)


def test_a_folder_is_never_replaced(tmp_path):
    folder = tmp_path / "models"
    (folder / "inside").mkdir(parents=True)
    with pytest.raises(IsADirectoryError) as info:
        write_atomically(folder, "x")
    assert info.value.filename == str(folder) and "folder" in str(info.value)
    assert (folder / "inside").is_dir()
    assert [p.name for p in tmp_path.iterdir()] == ["models"]


@posix_only
def test_a_pipe_or_device_is_never_replaced(tmp_path):
    # A named pipe stands in for a device: the old code, run as root, replaced /dev/null itself.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        write_atomically(fifo, "x")
    with pytest.raises(OSError, match="not a regular file"):
        check_writable(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        write_atomically(tmp_path / "no" / "m.json", "x")
    assert f"the folder {tmp_path / 'no'} does not exist" in str(info.value)


@pytest.mark.parametrize(("name", "needle"), [("", "empty"), ("a\x00b", "NUL")])
def test_impossible_names_are_value_errors(name, needle):
    with pytest.raises(ValueError, match=needle):
        check_path(name)
    with pytest.raises(ValueError, match=needle):
        write_atomically(name, "x")


def test_check_writable_touches_nothing(tmp_path):
    check_writable(tmp_path / "new.json")
    existing = tmp_path / "old.json"
    existing.write_text("old")
    before = existing.stat()
    check_writable(existing)
    assert existing.read_text() == "old" and existing.stat().st_mtime_ns == before.st_mtime_ns
    assert [p.name for p in tmp_path.iterdir()] == ["old.json"]


@posix_only
@pytest.mark.parametrize("path", ["/proc/m.json", "/no/such/folder/m.json", "/tmp"])
def test_check_writable_refuses_what_cannot_be_written(path):
    with pytest.raises(OSError) as info:
        check_writable(path)
    assert info.value.filename == path and info.value.strerror


KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    from microgradlike import files
    def die(*args):
        os.kill(os.getpid(), signal.SIGKILL)  # killed after the data is on disk, before the rename
    os.replace = die
    files.write_atomically(sys.argv[1], "new")
""")


@posix_only
def test_a_killed_writer_leaves_its_temporary_file_and_the_next_write_removes_it(tmp_path):
    path = tmp_path / "model.json"
    write_atomically(path, "old")
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path)], timeout=60)
    assert killed.returncode == -signal.SIGKILL
    left = [p.name for p in tmp_path.iterdir() if p.name != "model.json"]
    assert len(left) == 1 and left[0].startswith(".model.json~") and left[0].endswith(".tmp")
    assert path.read_text() == "old"  # the target is untouched
    write_atomically(path, "newer")
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"] and path.read_text() == "newer"


@posix_only
def test_a_temporary_file_of_a_running_process_is_left_alone(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        busy = tmp_path / f".model.json~{sleeper.pid}-0123abcd.tmp"
        busy.write_text("being written")
        other = tmp_path / ".other.json~999999999-0123abcd.tmp"  # another target's: not ours to judge
        other.write_text("x")
        write_atomically(tmp_path / "model.json", "x")
        assert busy.exists() and other.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


# ---- links that another user planted in a shared folder (Linux's fs.protected_symlinks) -------------
as_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                             reason="a link owned by another user can only be made by root")
OTHER_UID = 54321  # a user that owns nothing else here


@pytest.fixture
def shared(tmp_path):
    """A folder like /tmp: anyone may write to it, and the sticky bit is set."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


def plant(link: Path, points_to: Path, owner: int) -> None:
    link.symlink_to(points_to)
    os.lchown(link, owner, owner)


@posix_only
@as_root
@pytest.mark.parametrize("where", ["the file", "a folder on the way", "a missing file"])
def test_another_users_link_in_a_shared_sticky_folder_is_not_followed(tmp_path, shared, where):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "passwd").write_text("keep")
    if where == "the file":
        plant(shared / "out.json", victim / "passwd", OTHER_UID)
        path = shared / "out.json"
    elif where == "a folder on the way":
        plant(shared / "models", victim, OTHER_UID)
        path = shared / "models" / "passwd"
    else:  # a link to a file that does not exist yet: following it would create a file of theirs
        plant(shared / "out.json", victim / "crontab", OTHER_UID)
        path = shared / "out.json"
    for write in (lambda: write_atomically(path, "x"), lambda: check_writable(path)):
        with pytest.raises(PermissionError, match="protected_symlinks") as info:
            write()
        assert info.value.filename == str(path) and f"uid {OTHER_UID}" in str(info.value)
    assert [p.name for p in victim.iterdir()] == ["passwd"] and (victim / "passwd").read_text() == "keep"
    assert sorted(p.name for p in shared.iterdir()) == [path.relative_to(shared).parts[0]]


@posix_only
@as_root
@pytest.mark.parametrize("case", ["my own link", "the folder owner's link", "a folder not sticky"])
def test_links_the_kernel_would_follow_are_followed(tmp_path, shared, case):
    target = tmp_path / "model.json"
    owner = OTHER_UID
    if case == "my own link":
        owner = os.geteuid()
    elif case == "the folder owner's link":
        os.chown(shared, OTHER_UID, OTHER_UID)
    else:
        shared.chmod(0o777)
    plant(shared / "link.json", target, owner)
    check_writable(shared / "link.json")
    write_atomically(shared / "link.json", "new")
    assert target.read_text() == "new" and (shared / "link.json").is_symlink()


@posix_only
def test_a_loop_of_links_is_refused_by_name(tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError, match="symbolic links") as info:
        write_atomically(tmp_path / "a", "x")
    assert info.value.filename == str(tmp_path / "a")


@pytest.mark.parametrize("name", ["out.svg/", "out.svg/.", "sub/.."])
def test_a_name_that_names_a_folder_never_becomes_a_file(tmp_path, name):
    (tmp_path / "sub").mkdir()
    path = f"{tmp_path}/{name}"
    for write in (lambda: write_atomically(path, "x"), lambda: check_writable(path)):
        with pytest.raises(IsADirectoryError, match="names a folder") as info:
            write()
        assert info.value.filename == path
    assert [p.name for p in tmp_path.iterdir()] == ["sub"]


def test_same_file_sees_through_links_and_hard_links(tmp_path):
    data = tmp_path / "p.csv"
    data.write_text("1,2,0\n")
    (tmp_path / "link.csv").symlink_to("p.csv")
    os.link(data, tmp_path / "hard.csv")
    assert same_file(data, tmp_path / "link.csv") and same_file(data, tmp_path / "hard.csv")
    assert same_file(tmp_path / "new.json", f"{tmp_path}/./new.json")  # neither exists yet
    assert not same_file(data, tmp_path / "new.json")
    assert not same_file(tmp_path / "a.json", tmp_path / "b.json")
