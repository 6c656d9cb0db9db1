# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-user store of agent sessions (GUID, cookies, recording task) on the machine that runs the tasks.

One JSON file per gateway and agent, in a directory only its owner may read. A file is never seen half
written: it is written under a temporary name, then the old one is removed and the new one renamed into
place (no fsync, and no rename over the old file, which makes ext4 flush: each costs milliseconds per agent
in a campaign, while a session lost to a crash costs one sign-in, never a second recording). An exclusive
lock per agent keeps two tasks from acting on one agent at once; readers take it too.
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


class SessionStore:
    def __init__(self, directory: str | None = None) -> None:
        self.directory = os.path.abspath(directory or default_directory())

    def _ensure_directory(self) -> None:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        info = os.stat(self.directory)
        if info.st_uid != os.getuid():
            raise SessionStoreError(
                f"Session directory {self.directory} belongs to another user; refusing to keep GUIDs there."
            )
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(self.directory, 0o700)

    def _stem(self, gateway_url: str, agent_id: int) -> str:
        digest = hashlib.sha256(normalise_gateway(gateway_url).encode("utf-8")).hexdigest()[:16]
        return os.path.join(self.directory, f"{digest}-{int(agent_id)}")

    @contextlib.contextmanager
    def locked(self, gateway_url: str, agent_id: int) -> Iterator[None]:
        """Hold the agent's lock: tasks for the same agent on this machine run one after another."""
        self._ensure_directory()
        fd = os.open(self._stem(gateway_url, agent_id) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
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
        self._ensure_directory()
        record = dict(session, gateway_url=normalise_gateway(gateway_url), agent_id=int(agent_id))
        record["updated_at"] = time.time()
        target = self._stem(gateway_url, agent_id) + ".json"
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".session-", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(record, handle)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)
            os.rename(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise

    def delete(self, gateway_url: str, agent_id: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._stem(gateway_url, agent_id) + ".json")
