# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-user store of agent sessions (GUID, cookies, recording task) on the machine that runs the tasks.

One JSON file per gateway and agent, in a directory only its owner may read. A file is never seen half
written nor missing: it is written under a new temporary name (created exclusively, owner-only, never through
a symlink) and renamed over the old one. An exclusive lock per agent keeps two tasks from acting on one
agent at once; readers take it too. The session keeper shares the directory; the files it exchanges with
the modules are keeper_protocol.py's.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils._api import schemas
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.errors import StoreError
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.route import gateway_key

ENV_DIRECTORY = "CC_GATEWAY_SESSION_DIR"


# A store file is a few kilobytes (a kept agent's report: at most 500 events); anything larger is not ours.
MAX_FILE = 4 * 1024 * 1024
# The schemas' rule for a GUID (279fe21d-2caa-4437-84c3-ab9e9dae20f5.AgentGateway0).
GUID_MAX = schemas.GUID_MAX
_GUID = re.compile(schemas.GUID_PATTERN)
# How long a task waits for another task of this machine that works on the same agent.
AGENT_LOCK_WAIT = 600.0
LOCK_POLL = 0.05


def default_directory() -> str:
    configured = os.environ.get(ENV_DIRECTORY)
    if configured:
        return os.path.expanduser(configured)
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache_home, "cec.cc_gateway", "sessions")


def sane_guid(value: Any) -> bool:
    """Whether value can be a gateway GUID (it goes into a header of every request)."""
    return isinstance(value, str) and 0 < len(value) <= GUID_MAX and _GUID.match(value) is not None


def _unsafe_ancestor(info: os.stat_result) -> str | None:
    """Why a directory above the store lets another user replace what is below it, or None."""
    if info.st_uid not in (0, os.geteuid()):
        return f"belongs to another user (uid {info.st_uid})"
    if not stat.S_ISDIR(info.st_mode) or info.st_mode & stat.S_ISVTX:
        return None
    # Group-writable is fine for the user's own group (a user private group; an execution environment's home,
    # writable by group 0, with the task running in group 0): only the user or root is in it there.
    if info.st_mode & 0o002 or (info.st_mode & 0o020 and info.st_gid != os.getegid()):
        return f"other users may write (mode {stat.S_IMODE(info.st_mode):o})"
    return None


def check_ancestors(directory: str) -> None:
    """Refuse a store below a directory that another user owns or may write (as ssh does for ~/.ssh).

    Such a user could rename the store away and put a directory or a symlink of theirs in its place. A
    world-writable directory with the sticky bit (/tmp) lets nobody rename what others own, so it passes, and so
    does one writable by the user's own primary group.
    Both the path as given and the path its symlinks lead to are checked."""
    given, real = os.path.abspath(directory), os.path.realpath(directory)
    for path in (given,) if given == real else (given, real):
        parent = os.path.dirname(path)
        while True:
            why = _unsafe_ancestor(os.lstat(parent))
            if why:
                raise StoreError(
                    f"Session directory {directory} is inside {parent}, which {why}: another user could replace "
                    "the store. Point session_dir at a directory below one that only you (or root) may write."
                )
            if parent == os.path.dirname(parent):
                break
            parent = os.path.dirname(parent)


def check_directory(directory: str, repair: bool) -> None:
    """Refuse a store directory that is a symlink, that another user owns, or that others may enter.

    With repair, an empty one (new, or made by the user for the store) is made 0700; one that holds anything
    is not the collection's to change (a session_dir of /tmp must never become 0700) and is refused."""
    info = os.lstat(directory)
    if stat.S_ISLNK(info.st_mode):
        raise StoreError(
            f"Session directory {directory} is a symlink; refusing to follow it (another user could re-point it). "
            "Point session_dir at the directory itself."
        )
    if not stat.S_ISDIR(info.st_mode):
        raise StoreError(f"Session directory {directory} is not a directory.")
    if info.st_uid != os.geteuid():
        raise StoreError(
            f"Session directory {directory} belongs to another user (uid {info.st_uid}); refusing to keep "
            "GUIDs there."
        )
    check_ancestors(directory)
    if stat.S_IMODE(info.st_mode) & 0o077:
        if not repair or os.listdir(directory):
            raise StoreError(
                f"Session directory {directory} is open to other users (mode {stat.S_IMODE(info.st_mode):o}); "
                "it must be 0700 (chmod 700 it, or point session_dir at a directory of its own)."
            )
        os.chmod(directory, 0o700)
        # Whatever another user could drop in before the chmod must not be taken for the store's own.
        for name in os.listdir(directory):
            if os.lstat(os.path.join(directory, name)).st_uid != os.geteuid():
                raise StoreError(
                    f"Session directory {directory} holds {name}, which belongs to another user; refusing to "
                    "keep GUIDs there."
                )


def open_directory(directory: str) -> int:
    """The store directory, held open: what is done through it stays in it, whatever happens to its path."""
    return os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)


def read_file(name: str, dir_fd: int | None = None, limit: int = MAX_FILE) -> bytes:
    """A regular file of the store's owner, at most limit bytes; never through a symlink, never waiting on a
    FIFO or device. Raises OSError (FileNotFoundError when missing) or StoreError."""
    fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise StoreError(f"{name} in the session directory is not a regular file")
        if info.st_uid != os.geteuid():
            raise StoreError(f"{name} in the session directory belongs to another user (uid {info.st_uid})")
        if info.st_size > limit:
            raise StoreError(f"{name} in the session directory is larger than {limit} bytes")
        chunks = []
        size = 0
        while chunk := os.read(fd, 65536):
            size += len(chunk)
            if size > limit:
                raise StoreError(f"{name} in the session directory is larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_file(path: str, content: Any, text: bool = False, dir_fd: int | None = None) -> None:
    """Replace a file atomically with content (JSON unless text), readable by its owner only.

    With dir_fd, path is a name in that directory."""
    data = (content if text else json.dumps(content)).encode("utf-8")
    folder = "" if dir_fd is not None else os.path.dirname(path)
    for _attempt in range(100):
        temporary = os.path.join(folder, f".write-{secrets.token_hex(8)}.tmp")
        try:
            fd = os.open(
                temporary,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=dir_fd,
            )
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"no free temporary name beside {path}")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary, dir_fd=dir_fd)
        raise


def read_json(path: str, dir_fd: int | None = None) -> dict[str, Any] | None:
    """A JSON object from a file; None when it is missing, unreadable, not a safe file or not an object."""
    try:
        data = json.loads(read_file(path, dir_fd))
    except (OSError, ValueError, StoreError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def take_lock(path: str, wait: float, what: str, dir_fd: int | None = None) -> int:
    """An exclusive flock on path, waited for at most wait seconds; raises StoreError naming what."""
    fd = os.open(
        path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600, dir_fd=dir_fd
    )
    deadline = time.monotonic() + wait
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise StoreError(f"The lock file {path} of the session directory is not a regular file.")
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"{what} was busy for {wait:g} s: another task on this machine holds {path}. Wait for it "
                        "to end (or end it), then run this task again; nothing was sent."
                    ) from None
                time.sleep(LOCK_POLL)
    except BaseException:
        os.close(fd)
        raise


class SessionStore:
    def __init__(self, directory: str | None = None) -> None:
        self.directory = os.path.abspath(directory or default_directory())
        self._directory_checked = False

    def ensure_directory(self) -> None:
        # Checked once per store object (one task): a batch would otherwise check it twice per agent.
        if self._directory_checked:
            return
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise StoreError(f"Session directory {self.directory} cannot be made: {exc}.") from None
        check_directory(self.directory, repair=True)
        self._directory_checked = True

    def check_readable(self) -> bool:
        """For tasks that only read: whether the store exists, after the checks a writer makes (no repair)."""
        if self._directory_checked:
            return True
        try:
            check_directory(self.directory, repair=False)
        except FileNotFoundError:
            return False
        self._directory_checked = True
        return True

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def stem(self, gateway_url: str, agent_id: int) -> str:
        digest = hashlib.sha256(gateway_key(gateway_url).encode("utf-8")).hexdigest()[:16]
        return os.path.join(self.directory, f"{digest}-{int(agent_id)}")

    @contextlib.contextmanager
    def locked(self, gateway_url: str, agent_id: int) -> Iterator[None]:
        """Hold the agent's lock: tasks for the same agent on this machine run one after another."""
        self.ensure_directory()
        fd = take_lock(self.stem(gateway_url, agent_id) + ".lock", AGENT_LOCK_WAIT, f"Agent {agent_id}")
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def load(self, gateway_url: str, agent_id: int) -> dict[str, Any] | None:
        path = self.stem(gateway_url, agent_id) + ".json"
        try:
            data = json.loads(read_file(path))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError, StoreError) as exc:
            raise StoreError(f"Session file {path} is unusable ({exc}); delete it to start afresh.") from None
        if not isinstance(data, dict):
            return None
        if data.get("guid") is not None and not sane_guid(data["guid"]):
            raise StoreError(
                f"Session file {path} holds a GUID that cannot be one (not 1-{GUID_MAX} characters of letters, "
                "digits and ._~+/=:-); delete the file to start afresh."
            )
        return data

    def save(self, gateway_url: str, agent_id: int, session: dict[str, Any]) -> None:
        self.ensure_directory()
        record = dict(session, gateway_url=gateway_key(gateway_url), agent_id=int(agent_id))
        record["updated_at"] = time.time()
        write_file(self.stem(gateway_url, agent_id) + ".json", record)

    def delete(self, gateway_url: str, agent_id: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.stem(gateway_url, agent_id) + ".json")
