# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-user store of agent sessions (GUID, cookies, recording task) on the machine that runs the tasks.

One JSON file per gateway and agent, in a directory only its owner may read. A file is never seen half
written nor missing: it is written under a new temporary name (created exclusively, owner-only, never through
a symlink) and renamed over the old one. An exclusive lock per agent keeps two tasks from acting on one
agent at once; readers take it too. The session keeper (_keeper.py) shares the directory, its file names and
write_file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from typing import Any

ENV_DIRECTORY = "CC_GATEWAY_SESSION_DIR"
KEEP_SUFFIX = ".keep.json"
KEPT_SUFFIX = ".kept.json"
# The session keeper's own files in the store.
KEEPER_LOCK_FILE = "keeper.lock"
KEEPER_START_LOCK_FILE = "keeper.start.lock"
KEEPER_STATUS_FILE = "keeper.json"
KEEPER_STOP_FILE = "keeper.stop"
KEEPER_LOG_FILE = "keeper.log"
KEEPER_LEGACY_PID_FILE = "keeper.pid"  # written by the keeper of collection 1.0.0


class SessionStoreError(Exception):
    """The store cannot be used safely (wrong owner, permissions, unreadable file)."""


def default_directory() -> str:
    configured = os.environ.get(ENV_DIRECTORY)
    if configured:
        return os.path.expanduser(configured)
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache_home, "cec.cc_gateway", "sessions")


def normalise_gateway(gateway_url: str) -> str:
    return gateway_url.strip().rstrip("/").lower()


def check_directory(directory: str, repair: bool) -> None:
    """Refuse a store directory that another user owns, or that others may enter.

    With repair, an empty one (new, or made by the user for the store) is made 0700; one that holds anything
    is not the collection's to change (a session_dir of /tmp must never become 0700) and is refused."""
    info = os.stat(directory)
    if not stat.S_ISDIR(info.st_mode):
        raise SessionStoreError(f"Session directory {directory} is not a directory.")
    if info.st_uid != os.geteuid():
        raise SessionStoreError(
            f"Session directory {directory} belongs to another user (uid {info.st_uid}); refusing to keep "
            "GUIDs there."
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        if not repair or os.listdir(directory):
            raise SessionStoreError(
                f"Session directory {directory} is open to other users (mode {stat.S_IMODE(info.st_mode):o}); "
                "it must be 0700 (chmod 700 it, or point session_dir at a directory of its own)."
            )
        os.chmod(directory, 0o700)
        # Whatever another user could drop in before the chmod must not be taken for the store's own.
        for name in os.listdir(directory):
            if os.lstat(os.path.join(directory, name)).st_uid != os.geteuid():
                raise SessionStoreError(
                    f"Session directory {directory} holds {name}, which belongs to another user; refusing to "
                    "keep GUIDs there."
                )


def write_file(path: str, content: Any, text: bool = False) -> None:
    """Replace a file atomically with content (JSON unless text), readable by its owner only."""
    data = (content if text else json.dumps(content)).encode("utf-8")
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".write-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def read_json(path: str) -> dict[str, Any] | None:
    """A JSON object from a file; None when it is missing, unreadable or not an object."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class SessionStore:
    def __init__(self, directory: str | None = None) -> None:
        self.directory = os.path.abspath(directory or default_directory())
        self._directory_checked = False

    def ensure_directory(self) -> None:
        # Checked once per store object (one task): a batch would otherwise check it twice per agent.
        if self._directory_checked:
            return
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        check_directory(self.directory, repair=True)
        self._directory_checked = True

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def _stem(self, gateway_url: str, agent_id: int) -> str:
        digest = hashlib.sha256(normalise_gateway(gateway_url).encode("utf-8")).hexdigest()[:16]
        return os.path.join(self.directory, f"{digest}-{int(agent_id)}")

    @contextlib.contextmanager
    def locked(self, gateway_url: str, agent_id: int) -> Iterator[None]:
        """Hold the agent's lock: tasks for the same agent on this machine run one after another."""
        self.ensure_directory()
        fd = os.open(
            self._stem(gateway_url, agent_id) + ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def load(self, gateway_url: str, agent_id: int) -> dict[str, Any] | None:
        path = self._stem(gateway_url, agent_id) + ".json"
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise SessionStoreError(
                f"Session file {path} is unreadable ({exc}); delete it to start afresh."
            ) from None
        if not isinstance(data, dict):
            return None
        return data

    def save(self, gateway_url: str, agent_id: int, session: dict[str, Any]) -> None:
        self.ensure_directory()
        record = dict(session, gateway_url=normalise_gateway(gateway_url), agent_id=int(agent_id))
        record["updated_at"] = time.time()
        write_file(self._stem(gateway_url, agent_id) + ".json", record)

    def delete(self, gateway_url: str, agent_id: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._stem(gateway_url, agent_id) + ".json")

    # -- what the session keeper (see _keeper.py) is asked to keep, and what it reports

    def request_keep(self, gateway_url: str, agent_id: int, connection: dict[str, Any]) -> None:
        """Ask the keeper to keep this agent's session; a new generation makes it start over from the session file."""
        self.ensure_directory()
        request = dict(connection, gateway_url=gateway_url, agent_id=int(agent_id), generation=time.time_ns())
        write_file(self._stem(gateway_url, agent_id) + KEEP_SUFFIX, request)

    def keep_generation(self, gateway_url: str, agent_id: int) -> int | None:
        """The generation of the agent's keep request (the keeper reports it back), None when not kept."""
        request = read_json(self._stem(gateway_url, agent_id) + KEEP_SUFFIX) or {}
        return request.get("generation")

    def keep_requested(self, gateway_url: str, agent_id: int) -> bool:
        return os.path.exists(self._stem(gateway_url, agent_id) + KEEP_SUFFIX)

    def release(self, gateway_url: str, agent_id: int) -> None:
        for suffix in (KEEP_SUFFIX, KEPT_SUFFIX):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._stem(gateway_url, agent_id) + suffix)

    def kept(self, gateway_url: str, agent_id: int) -> dict[str, Any] | None:
        """What the keeper last wrote about the agent: guid, alive, reason, events, recording."""
        return read_json(self._stem(gateway_url, agent_id) + KEPT_SUFFIX)

    def kept_agents(self) -> int:
        try:
            return sum(1 for name in os.listdir(self.directory) if name.endswith(KEEP_SUFFIX))
        except FileNotFoundError:
            return 0
