# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A file the collection writes on the host that runs the task (a recording, a campaign's report): what is there
checked first (never through a symlink, never onto a directory or a device), the new bytes written to a
temporary file beside it, created exclusively and owner-only, then renamed into place: whole or not at all."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass
from typing import Any, Callable

from ansible_collections.cec.cc_gateway.plugins.module_utils._api.errors import GatewayError

# The temporary file: .<dest's name>.<random>.part in dest's directory.
PART_SUFFIX = ".part"
PART_NAME_BASE_MAX = 200
PART_ATTEMPTS = 100
READ_PIECE = 1024 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def file_mode(value: Any) -> int:
    """The permission bits of a mode as the task gives it: an octal string ('0600') or a number (0o600)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(str(value), 8)


def mode_text(mode: int) -> str:
    return f"{mode:04o}"


@dataclass(frozen=True)
class ExistingFile:
    size: int
    sha256: str
    mode: int


def directory_of(dest: str) -> str:
    """The directory dest is (to be) in."""
    return os.path.dirname(dest) or "."


def existing_dest(dest: str, option: str = "dest", example: str = "recording.V3") -> ExistingFile | None:
    """What is at dest now, with its SHA-256: None when nothing; raises GatewayError as checked_dest does."""
    if checked_dest(dest, option, example) is None:
        return None
    return _read_existing(dest, option)


def checked_dest(dest: str, option: str = "dest", example: str = "recording.V3") -> os.stat_result | None:
    """What is at dest now (its lstat), None when nothing; raises GatewayError (naming the option that gave dest)
    for a dest that cannot be written or must not be (a symlink is neither followed nor replaced, nor is a
    directory or a device). Reads nothing of the file, changes nothing."""
    directory = directory_of(dest)
    try:
        info = os.stat(directory)
    except FileNotFoundError:
        raise GatewayError(
            f"{option}: the directory {directory} does not exist; create it first (ansible.builtin.file with "
            f"state: directory), or point {option} into an existing one."
        ) from None
    except OSError as exc:
        raise GatewayError(f"{option}: the directory {directory} cannot be used: {exc.strerror}.") from None
    if not stat.S_ISDIR(info.st_mode):
        raise GatewayError(f"{option}: {directory} is not a directory, so {dest} cannot be made.")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise GatewayError(
            f"{option}: the directory {directory} is not writable by this user, so {dest} cannot be made."
        )
    try:
        info = os.lstat(dest)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise GatewayError(f"{option}: {dest} cannot be used: {exc.strerror}.") from None
    if stat.S_ISLNK(info.st_mode):
        raise GatewayError(
            f"{option}: {dest} is a symbolic link; it is neither followed nor replaced. Remove it, or give the path "
            "of the file itself."
        )
    if stat.S_ISDIR(info.st_mode):
        raise GatewayError(
            f"{option}: {dest} is a directory; give the path of the file to write, such as {dest.rstrip('/')}/"
            f"{example}."
        )
    if not stat.S_ISREG(info.st_mode):
        raise GatewayError(f"{option}: {dest} exists and is not a regular file; it is not replaced.")
    return info


def holds_exactly(dest: str, data: bytes, option: str = "dest") -> bool:
    """Whether the regular file at dest holds data and nothing else; reads at most len(data) + 1 bytes of it, so
    a huge file (a planted sparse one, say) costs no more than a small one. A file this user may not read does
    not (it is replaced, as the directory allows)."""
    try:
        fd, info = _open_regular(dest, option, quiet=PermissionError)
    except PermissionError:
        return False
    try:
        if info.st_size != len(data):
            return False
        pieces, left = [], len(data) + 1
        while left > 0 and (piece := os.read(fd, min(left, READ_PIECE))):
            pieces.append(piece)
            left -= len(piece)
        return b"".join(pieces) == data
    finally:
        os.close(fd)


def _open_regular(dest: str, option: str, quiet: type[OSError] | None = None) -> tuple[int, os.stat_result]:
    """dest opened for reading (never through a symlink, never waiting on a FIFO) with its fstat; raises GatewayError
    when it cannot be opened or is not a regular file (any more); an OSError of the kind quiet, as it is."""
    try:
        fd = os.open(dest, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _NONBLOCK)
    except OSError as exc:
        if quiet is not None and isinstance(exc, quiet):
            raise
        raise GatewayError(f"{option}: {dest} exists but cannot be read: {exc.strerror}.") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise GatewayError(f"{option}: {dest} exists and is not a regular file; it is not replaced.")
    return fd, info


def _read_existing(dest: str, option: str) -> ExistingFile:
    fd, info = _open_regular(dest, option)
    try:
        digest = hashlib.sha256()
        size = 0
        while True:
            piece = os.read(fd, READ_PIECE)
            if not piece:
                break
            digest.update(piece)
            size += len(piece)
        return ExistingFile(size, digest.hexdigest(), stat.S_IMODE(info.st_mode))
    finally:
        os.close(fd)


def set_mode(dest: str, mode: int) -> None:
    """Give the regular file at dest (never a symlink's target, nor what was put in its place since it was
    looked at, unless a regular file) the mode; raises OSError."""
    fd = os.open(dest, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "it is no longer a regular file")
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


class PartFile:
    """The download's temporary file beside dest (so that renaming it onto dest is atomic): created exclusively
    (O_EXCL: never through a symlink or onto anything that exists), owner-only, under a name nobody can guess;
    removed unless committed."""

    def __init__(self, dest: str, option: str = "dest") -> None:
        self.dest = dest
        self.option = option
        self.directory = directory_of(dest)
        self.path: str | None = None
        self.fd: int | None = None

    def open(self) -> Callable[[bytes], None]:
        """A new, empty temporary file (one an earlier attempt left is removed); its writer."""
        self.discard()
        base = os.path.basename(self.dest)[:PART_NAME_BASE_MAX]
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
        for _attempt in range(PART_ATTEMPTS):
            path = os.path.join(self.directory, f".{base}.{secrets.token_hex(8)}{PART_SUFFIX}")
            try:
                fd = os.open(path, flags, 0o600)
            except FileExistsError:
                continue
            except OSError as exc:
                raise GatewayError(
                    f"{self.option}: no temporary file can be made in {self.directory}: {exc.strerror}."
                ) from None
            self.fd, self.path = fd, path
            return self.write
        raise GatewayError(
            f"{self.option}: no free name for a temporary file in {self.directory} ({PART_ATTEMPTS} tried)."
        )

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.fd, view)  # type: ignore[arg-type]
            except OSError as exc:
                raise GatewayError(f"{self.option}: writing {self.path} failed: {exc.strerror}.") from None
            view = view[written:]

    def commit(self, mode: int) -> None:
        """The mode, the bytes on disk, then the rename onto dest (which replaces a file there, and would
        replace a symlink itself, never its target)."""
        if self.fd is None or self.path is None:
            raise GatewayError(f"{self.option}: no new file was written to move into place.")
        try:
            os.fchmod(self.fd, mode)
            os.fsync(self.fd)
            os.close(self.fd)
            self.fd = None
            os.replace(self.path, self.dest)
        except OSError as exc:
            raise GatewayError(
                f"{self.option}: moving the new file onto {self.dest} failed: {exc.strerror}."
            ) from None
        self.path = None
        with contextlib.suppress(OSError):
            directory = os.open(self.directory, os.O_RDONLY | _CLOEXEC)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    def discard(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            self.path = None
