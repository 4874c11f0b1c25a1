"""Writing files so that a crash never leaves half of one: temp file, flush, rename.

`write_atomically(path, data)` writes ``data`` to a temporary file next to the target, flushes
it to disk and renames it over the target (a rename within one folder is atomic). The file it
leaves behaves like one an editor saves:

* an existing file keeps its permission bits (a private 0600 model stays private) and, where
  the system allows, its owner; a new file gets 0666 minus the umask, like ``open(path, "w")``;
* a symbolic link is followed: the file it points to is replaced and the link stays a link;
  except where Linux's ``fs.protected_symlinks`` rule would refuse to follow it (a link in a
  sticky folder anyone may write to, such as /tmp, owned by neither you nor the folder's owner:
  another user may have planted it there to make you, or root, overwrite a file of their choosing);
* a folder, a device or a read-only file is never replaced, nor is a name that ends with ``/``
  (it names a folder) turned into a file (OSError naming the user's path). Read-only is what the
  permission bits say, for root too: a file without any write bit (``chmod 444``) is kept even
  though root could write it.

What a crash can leave: a process killed during a write (``kill -9``, a power cut) leaves its
temporary file ``.NAME~PID-XXXXXXXX.tmp`` next to ``NAME`` (NAME cut short if needed to keep the
temporary name within the 255 bytes a file name may have); the target itself is either the old
file or the new one. The next write to the same target removes every such file of a process that
is no longer running (POSIX; elsewhere they stay until deleted by hand).

`check_writable(path)` runs the same checks, and creates and removes one temporary file, without
touching ``path``: the command line calls it before training, so a model is never trained only to
be lost because its file cannot be written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Iterator
from typing import TextIO

from .memory import check_memory

__all__ = ["check_path", "check_writable", "open_regular_file", "same_file", "write_atomically"]

_NAME_MAX = 255  # bytes in one file name on the common file systems (ext4, APFS, NTFS, tmpfs)
_TMP_EXTRA = len(".~4294967295-12345678.tmp")  # what the temporary name adds to the target's
_MAX_LINKS = 40  # symbolic links followed in one path before giving up, as Linux does (ELOOP)


def check_path(path: object) -> str:
    """``path`` as a str, if it can name a file: a non-empty str or os.PathLike without NUL.

    TypeError for anything else, ValueError for "" or a name with a NUL character (which no
    system call accepts; Python's own message, "embedded null byte", does not say which name)."""
    wrong_type = f"a file name must be a str or os.PathLike, got {type(path).__name__}"
    if not isinstance(path, str | bytes | os.PathLike):
        raise TypeError(wrong_type)
    try:
        text = os.fspath(path)
    except TypeError:  # a __fspath__ that returns neither str nor bytes
        raise TypeError(wrong_type) from None
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text:
        raise ValueError("the file name is empty")
    if "\x00" in text:
        raise ValueError(f"{text!r} is not a valid file name: it contains a NUL character (\\x00)")
    return text


def open_regular_file(name: str, where: str, reader: str, bytes_per_byte: float, encoding: str = "utf-8",
                      newline: str | None = None) -> TextIO:
    """``name`` opened for reading as text, if it is a regular file whose contents fit in memory:
    the one rule for every file the package reads (`data.load_csv`, `Module.load`).

    It is opened without blocking (a FIFO with no writer would wait forever in ``open``), then
    asked what it is: a FIFO, a device (``/dev/zero`` never ends, and its size reads as 0), a
    socket or a directory is refused before anything is read, ValueError "WHERE: a FIFO (named
    pipe), not a regular file; READER". ``bytes_per_byte``: the memory the reader needs per byte
    of the file (`memory.check_memory` refuses a file that would not fit). OSError as ``open``
    raises it (FileNotFoundError, PermissionError, …)."""
    fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO (named pipe)"
                    if stat.S_ISFIFO(info.st_mode) else "a device" if stat.S_ISCHR(info.st_mode)
                    or stat.S_ISBLK(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode)
                    else "not a regular file")
            raise ValueError(f"{where}: {kind}, not a regular file; {reader}")
        check_memory(bytes_per_byte * info.st_size, f"reading {where}")
        return open(fd, encoding=encoding, newline=newline)
    except BaseException:
        os.close(fd)
        raise


def write_atomically(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Write ``data`` (str is encoded as UTF-8) to ``path`` all at once or not at all.

    The old file or the new one is there at every moment, never a mix; the module docstring says
    which mode the file gets, how links are followed and what a killed process can leave. Errors
    are OSError (ValueError for an impossible name) naming ``path`` as the user gave it.
    """
    user_path = check_path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with _naming(user_path):
        target, existing = _target(user_path)
        folder, name = os.path.split(target)
        _remove_stale_temporaries(folder, name)
        fd, tmp = _create_temporary(folder, name, existing)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_folder(folder)


def check_writable(path: str | os.PathLike[str]) -> None:
    """Raise what `write_atomically` would raise for ``path``, without writing or touching it.

    Checks that the folder exists, that ``path`` is not a folder, a device or a read-only file,
    and that a file can be created in the folder (by creating and removing a temporary one: this
    catches read-only file systems, /proc and folders without write permission, even for root).
    The OSError's ``strerror`` says what is wrong in words.
    """
    user_path = check_path(path)
    with _naming(user_path):
        target, existing = _target(user_path)
        folder, name = os.path.split(target)
        fd, tmp = _create_temporary(folder, name, existing)
        os.close(fd)
        os.unlink(tmp)


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` name one file: the same path once symbolic links are followed, or,
    where both exist, one file under two names (hard links: the same device and inode)."""
    a, b = check_path(a), check_path(b)
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def _target(user_path: str) -> tuple[str, os.stat_result | None]:
    """The real file to replace (symbolic links followed) and its stat, if it exists."""
    last = os.path.basename(user_path)
    if last in ("", ".", ".."):  # "out.svg/" names a folder: never write a file out.svg for it
        ending = repr(last) if last else "'/'"
        raise OSError(errno.EISDIR, f"it names a folder (it ends with {ending}), not a file")
    target = _resolve(user_path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        exists = os.path.lexists(folder)
        raise OSError(errno.ENOTDIR if exists else errno.ENOENT,
                      f"{folder} is not a folder" if exists else f"the folder {folder} does not exist")
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        return target, None
    if stat.S_ISDIR(existing.st_mode):
        raise OSError(errno.EISDIR, "it is a folder, not a file")
    if not stat.S_ISREG(existing.st_mode):
        raise OSError(errno.EINVAL, "it is not a regular file (a device, pipe or socket is never replaced)")
    if _read_only(existing):
        raise OSError(errno.EACCES, "the file is read-only (no write permission)")
    return target, existing


def _read_only(info: os.stat_result) -> bool:
    """Whether the file's permission bits say it is not to be written, by us.

    Decided by the bits, not by ``os.access``, which says yes to root for every file: root gets a
    file without any write bit (``chmod 444``) refused, as ``rm`` and editors do; anyone else, the
    bits the kernel checks for them: the owner's, the group's or the others' (ACLs are not read)."""
    mode = stat.S_IMODE(info.st_mode)
    euid = os.geteuid() if hasattr(os, "geteuid") else 0  # no owners (Windows): any write bit counts
    if euid == 0:
        return not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    if info.st_uid == euid:
        return not mode & stat.S_IWUSR
    if info.st_gid == os.getegid() or info.st_gid in os.getgroups():
        return not mode & stat.S_IWGRP
    return not mode & stat.S_IWOTH


def _resolve(path: str) -> str:
    """``os.path.realpath(path)``, with each symbolic link on the way checked before it is followed.

    The path is walked one name at a time, as the kernel walks it: a link (in a folder name, at the
    end, or inside what another link points to) is checked by `_check_link`, then replaced by its
    contents; ``..`` goes up from where the links led. A name that does not exist is kept as written
    (the callers say what is missing)."""
    if os.name != "posix":  # no owners of links to check
        return os.path.realpath(path)
    resolved = "/" if path.startswith("/") else os.getcwd()
    pending = path.split("/")[::-1]  # a stack: the next name on top
    links = 0
    while pending:
        name = pending.pop()
        if name in ("", "."):
            continue
        if name == "..":
            resolved = os.path.dirname(resolved)
            continue
        candidate = os.path.join(resolved, name)
        try:
            info = os.lstat(candidate)
        except OSError:  # missing, or not reachable: not a link we could follow
            info = None
        if info is None or not stat.S_ISLNK(info.st_mode):
            resolved = candidate
            continue
        links += 1
        if links > _MAX_LINKS:
            raise OSError(errno.ELOOP, f"more than {_MAX_LINKS} symbolic links on the way (a loop?)")
        _check_link(candidate, info, resolved)
        contents = os.readlink(candidate)
        if contents.startswith("/"):
            resolved = "/"
        pending.extend(contents.split("/")[::-1])
    return resolved


def _check_link(link: str, info: os.stat_result, folder: str) -> None:
    """Refuse to follow ``link`` (in ``folder``) where Linux's ``fs.protected_symlinks`` would.

    In a sticky folder that anyone may write to (/tmp, /var/tmp), anyone can plant a link, so one
    is followed only when it belongs to us or to the folder's owner; any other user's link there
    could point at a file of ours (or, run as root, at any file) for us to overwrite."""
    folder_info = os.stat(folder)
    shared = folder_info.st_mode & stat.S_ISVTX and folder_info.st_mode & stat.S_IWOTH
    if shared and info.st_uid not in (os.geteuid(), folder_info.st_uid):
        raise OSError(errno.EACCES, f"{link} is a symbolic link owned by another user (uid {info.st_uid}) "
                                    f"in {folder}, a sticky folder anyone may write to: it is not followed, "
                                    f"as the kernel's protected_symlinks rule would not follow it")


def _temporary_stem(folder: str, name: str) -> str:
    """``.NAME~``, with NAME cut (at a character boundary) so that the whole temporary name fits
    in the folder's file-name limit: a 255-byte target name must be savable too."""
    limit = _NAME_MAX
    with contextlib.suppress(OSError, ValueError, AttributeError):
        limit = min(limit, os.pathconf(folder, "PC_NAME_MAX"))
    room = max(1, limit - _TMP_EXTRA)
    while len(os.fsencode(name)) > room:
        name = name[:-1]
    return f".{name}~"


def _create_temporary(folder: str, name: str, existing: os.stat_result | None) -> tuple[int, str]:
    """Create ``.NAME~PID-XXXXXXXX.tmp`` in ``folder``, with the mode the final file must have.

    A new file is created with 0666 and the system applies the umask, as for ``open(path, "w")``;
    for an existing file it is created private (0600) and then given that file's exact mode (and
    owner, when allowed), before any byte is written."""
    stem = _temporary_stem(folder, name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f"{stem}{os.getpid()}-{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o600 if existing else 0o666)
        except FileExistsError:
            continue
        except OSError as e:  # /proc, a read-only file system, a folder without write permission
            raise OSError(e.errno, f"cannot create a file in the folder {folder}: {e.strerror}") from e
        break
    else:  # 100 collisions of 32 random bits: something else is going on
        raise OSError(errno.EEXIST, f"cannot create a temporary file in {folder}")
    if existing is not None and hasattr(os, "fchmod"):
        try:
            os.fchmod(fd, stat.S_IMODE(existing.st_mode))
            if hasattr(os, "fchown") and (existing.st_uid, existing.st_gid) != (os.getuid(), os.getgid()):
                with contextlib.suppress(OSError):  # only root (or the owner, for the group) may
                    os.fchown(fd, existing.st_uid, existing.st_gid)
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
    return fd, tmp


def _remove_stale_temporaries(folder: str, name: str) -> None:
    """Delete the temporary files of earlier writes to ``name`` whose process no longer runs."""
    if os.name != "posix":  # no safe way to ask whether a pid lives (os.kill would kill it)
        return
    stem = _temporary_stem(folder, name)
    pattern = re.compile(re.escape(stem) + r"(\d+)-[0-9a-f]{8}\.tmp")
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            match = pattern.fullmatch(entry.name) if entry.name.startswith(stem) else None
            if match and not _process_runs(int(match.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _process_runs(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of this process may be writing it right now
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # it exists (another user's), or the pid is not ours to judge
    return True


@contextlib.contextmanager
def _naming(user_path: str) -> Iterator[None]:
    """Re-raise an OSError naming the path the user gave (not the temporary file or the link's
    target); ``OSError(errno, ...)`` picks the subclass (PermissionError, IsADirectoryError, ...)."""
    try:
        yield
    except OSError as e:
        if e.errno is None:  # not from a system call: nothing to rename
            raise
        raise OSError(e.errno, e.strerror, user_path) from e


def _fsync_folder(folder: str) -> None:
    """Flush the folder entry too, so the rename survives a power cut (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # some file systems refuse fsync on a folder
            os.fsync(fd)
    finally:
        os.close(fd)
