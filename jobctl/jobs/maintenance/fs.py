"""Filesystem primitives for media-orphan-cleanup that a hostile path or a symbolic link cannot fool.

Everything goes through directory file descriptors opened from the *real* media root, one path
component at a time, with ``O_NOFOLLOW``: a path whose components include a symbolic link is refused,
whatever the link points to, so nothing outside the media root is ever opened, examined or
unlinked, and a link swapped in between two checks cannot redirect a deletion. Files are only ever
unlinked by name relative to their parent directory's descriptor, after checking that the name still
denotes the very regular file (device, inode, size, mtime) that was examined. Directories are never
removed; symbolic links and other non-regular files are never touched.
"""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class UnsafePath(Exception):
    """A media path the job refuses to act on; the message is the reason shown to the operator."""


def split_media_path(path) -> tuple[str, ...]:
    """The components of a media row's ``path`` ('/'-separated, relative to the media root).

    Raises :class:`UnsafePath` for anything that could leave the media root: an absolute path, a
    '..' component, a NUL byte, an empty path or one naming the root itself.
    """
    if not isinstance(path, str) or not path.strip():
        raise UnsafePath("empty path")
    if "\x00" in path:
        raise UnsafePath("path contains a NUL byte")
    if path.startswith("/"):
        raise UnsafePath("absolute path (outside the media root)")
    parts = tuple(p for p in path.split("/") if p not in ("", "."))
    if ".." in parts:
        raise UnsafePath("path climbs out of the media root ('..')")
    if not parts:
        raise UnsafePath("path names the media root itself")
    return parts


def path_key(path) -> str | None:
    """The normalised form of a media row's path ('a//./b' → 'a/b'); None when it is unsafe."""
    try:
        return "/".join(split_media_path(path))
    except UnsafePath:
        return None


@dataclass(frozen=True)
class FileId:
    """What identifies a file between examining it and unlinking it."""

    dev: int
    ino: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> "FileId":
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class Entry:
    """One thing found by :meth:`MediaRoot.walk`: kind is 'file', 'symlink', 'other' or 'error'."""

    kind: str
    rel: str
    st: os.stat_result | None = None
    reason: str = ""


def unlink_at(dir_fd: int, name: str) -> None:
    """Remove directory entry ``name`` of the directory open as ``dir_fd`` (a seam for tests)."""
    os.unlink(name, dir_fd=dir_fd)


class MediaRoot:
    """The media root, opened once by its real path; all lookups are relative to that descriptor."""

    def __init__(self, root: os.PathLike | str, protected: tuple[str, ...] = ()):
        self.path = os.path.realpath(os.fspath(root))
        try:
            self.fd = os.open(self.path, _DIR_FLAGS)
        except FileNotFoundError:
            raise UnsafePath(f"media root {self.path} does not exist") from None
        except NotADirectoryError:
            raise UnsafePath(f"media root {self.path} is not a directory") from None
        self.dev = os.fstat(self.fd).st_dev
        # Files the job must never delete even if they sit in the media root (the platform database).
        self.protected = frozenset(os.path.realpath(p) for p in protected)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> "MediaRoot":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- lookups ---------------------------------------------------------------------------------
    @contextmanager
    def parent_of(self, parts: tuple[str, ...]) -> Iterator[int]:
        """A descriptor of the directory holding ``parts[-1]``, opened without following any link.

        Raises UnsafePath (a component is a link, not a directory, or on another filesystem) or
        FileNotFoundError (a component is missing).
        """
        fd = os.dup(self.fd)
        try:
            for i, name in enumerate(parts[:-1]):
                try:
                    nxt = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except (NotADirectoryError, OSError) as exc:
                    if isinstance(exc, FileNotFoundError):
                        raise
                    shown = "/".join(parts[:i + 1])
                    if _is_symlink_at(fd, name):
                        raise UnsafePath(f"path goes through a symbolic link ({shown}); not followed") from None
                    if isinstance(exc, NotADirectoryError):
                        raise UnsafePath(f"path component {shown} is not a directory") from None
                    raise UnsafePath(f"cannot open directory {shown}: {exc.strerror}") from None
                os.close(fd)
                fd = nxt
                if os.fstat(fd).st_dev != self.dev:
                    raise UnsafePath(f"path crosses into another filesystem at {'/'.join(parts[:i + 1])}")
            yield fd
        finally:
            os.close(fd)

    def examine(self, parts: tuple[str, ...]) -> os.stat_result | None:
        """The lstat of the regular file at ``parts``; None when it does not exist.

        Raises UnsafePath when it is anything but a deletable regular file inside the root.
        """
        self._check_real_path(parts)
        try:
            with self.parent_of(parts) as dfd:
                st = os.stat(parts[-1], dir_fd=dfd, follow_symlinks=False)
                self._check_regular(st, parts)
                if not os.access(".", os.W_OK | os.X_OK, dir_fd=dfd):
                    raise UnsafePath("permission denied: its directory is not writable")
                return st
        except FileNotFoundError:
            return None

    def unlink(self, parts: tuple[str, ...], expected: FileId) -> None:
        """Unlink the regular file at ``parts`` if it is still exactly ``expected``.

        Raises UnsafePath (it changed or became unsafe), FileNotFoundError, or OSError (permissions).
        """
        self._check_real_path(parts)
        with self.parent_of(parts) as dfd:
            st = os.stat(parts[-1], dir_fd=dfd, follow_symlinks=False)
            self._check_regular(st, parts)
            if FileId.of(st) != expected:
                raise UnsafePath("file changed since it was examined; left alone")
            unlink_at(dfd, parts[-1])

    def _check_regular(self, st: os.stat_result, parts: tuple[str, ...]) -> None:
        if stat.S_ISLNK(st.st_mode):
            raise UnsafePath("symbolic link; never followed or removed")
        if stat.S_ISDIR(st.st_mode):
            raise UnsafePath("directory; directories are never deleted")
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePath("not a regular file")
        if st.st_nlink > 1:
            raise UnsafePath(f"file has {st.st_nlink} hard links; left alone")
        if os.path.join(self.path, *parts) in self.protected:
            raise UnsafePath("the platform database; never deleted")

    def _check_real_path(self, parts: tuple[str, ...]) -> None:
        """Belt and braces: the resolved path must lie inside the real media root."""
        real = os.path.realpath(os.path.join(self.path, *parts))
        if os.path.commonpath([real, self.path]) != self.path or real == self.path:
            raise UnsafePath("resolves outside the media root")

    # -- walking ----------------------------------------------------------------------------------
    def walk(self) -> Iterator[Entry]:
        """Every entry under the root, depth first, never descending through a symbolic link.

        Regular files come with their lstat; links, other non-regular files and unreadable
        directories are reported so the caller can say what it skipped.
        """
        yield from self._walk(os.dup(self.fd), "")

    def _walk(self, fd: int, rel: str) -> Iterator[Entry]:
        try:
            try:
                with os.scandir(fd) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                yield Entry("error", rel or ".", reason=f"cannot list directory: {exc.strerror}")
                return
            for e in entries:
                name = f"{rel}/{e.name}" if rel else e.name
                try:
                    if e.is_symlink():
                        yield Entry("symlink", name, reason="symbolic link; never followed or removed")
                    elif e.is_dir(follow_symlinks=False):
                        try:
                            sub = os.open(e.name, _DIR_FLAGS, dir_fd=fd)
                        except OSError as exc:
                            yield Entry("error", name, reason=f"cannot open directory: {exc.strerror}")
                            continue
                        if os.fstat(sub).st_dev != self.dev:
                            os.close(sub)
                            yield Entry("other", name, reason="another filesystem (mount point); not entered")
                            continue
                        yield from self._walk(sub, name)
                    elif e.is_file(follow_symlinks=False):
                        yield Entry("file", name, st=e.stat(follow_symlinks=False))
                    else:
                        yield Entry("other", name, reason="not a regular file")
                except FileNotFoundError:
                    continue  # vanished while we looked: nothing to do
        finally:
            os.close(fd)


def _is_symlink_at(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False
