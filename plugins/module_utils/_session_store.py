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
import signal
import stat
import threading
import time
from collections.abc import Iterator
from typing import Any

ENV_DIRECTORY = "CC_GATEWAY_SESSION_DIR"
# File names shared with _keeper.py, which cannot import this module (it runs on its own).
KEEP_SUFFIX = ".keep.json"
KEPT_SUFFIX = ".kept.json"
KEEPER_PID = "keeper.pid"
KEEPER_SCRIPT = "cc_gateway_keeper.py"


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
        self._directory_checked = False

    def _ensure_directory(self) -> None:
        # Checked once per store object (one task): a batch would otherwise check it twice per agent.
        if self._directory_checked:
            return
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        info = os.stat(self.directory)
        if info.st_uid != os.getuid():
            raise SessionStoreError(
                f"Session directory {self.directory} belongs to another user; refusing to keep GUIDs there."
            )
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(self.directory, 0o700)
        self._directory_checked = True

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
        write_file(self._stem(gateway_url, agent_id) + ".json", record)

    def delete(self, gateway_url: str, agent_id: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._stem(gateway_url, agent_id) + ".json")

    # -- the session keeper (see _keeper.py): keep requests, what it reports, the process itself

    def _keeper_path(self, suffix: str, gateway_url: str, agent_id: int) -> str:
        return self._stem(gateway_url, agent_id) + suffix

    def request_keep(self, gateway_url: str, agent_id: int, connection: dict[str, Any]) -> None:
        """Ask the keeper to keep this agent's session; a new generation makes it start over from the session file."""
        self._ensure_directory()
        request = dict(connection, gateway_url=gateway_url, agent_id=int(agent_id), generation=time.time_ns())
        write_file(self._keeper_path(KEEP_SUFFIX, gateway_url, agent_id), request)

    def keep_requested(self, gateway_url: str, agent_id: int) -> bool:
        return os.path.exists(self._keeper_path(KEEP_SUFFIX, gateway_url, agent_id))

    def release(self, gateway_url: str, agent_id: int) -> None:
        for suffix in (KEEP_SUFFIX, KEPT_SUFFIX):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._keeper_path(suffix, gateway_url, agent_id))

    def kept(self, gateway_url: str, agent_id: int) -> dict[str, Any] | None:
        """What the keeper last wrote about the agent: guid, alive, reason, events, recording."""
        path = self._keeper_path(KEPT_SUFFIX, gateway_url, agent_id)
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def kept_agents(self) -> int:
        try:
            return sum(1 for name in os.listdir(self.directory) if name.endswith(KEEP_SUFFIX))
        except FileNotFoundError:
            return 0

    def keeper_pid(self) -> int | None:
        """PID of the running keeper of this store, None when none runs (or it died)."""
        try:
            with open(os.path.join(self.directory, KEEPER_PID), encoding="utf-8") as handle:
                pid = int(json.load(handle)["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read().split(b"\0")
        except OSError:
            return None
        # A PID can be reused by another process after the keeper died.
        return pid if any(part.endswith(KEEPER_SCRIPT.encode()) for part in command) else None

    def start_keeper(self, source: str, interpreter: str, wait: float = 10.0) -> int:
        """Start the keeper (unless one runs) from its source; return its PID."""
        self._ensure_directory()
        running = self.keeper_pid()
        if running:
            return running
        # One starter at a time (threads of a batch, parallel tasks): the others find the keeper running.
        fd = os.open(os.path.join(self.directory, "keeper.start.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return self.keeper_pid() or self._spawn_keeper(source, interpreter, wait)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _spawn_keeper(self, source: str, interpreter: str, wait: float) -> int:
        script = os.path.join(self.directory, KEEPER_SCRIPT)
        write_file(script, source, text=True)
        log = os.open(
            os.path.join(self.directory, "keeper.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
        )
        try:
            daemonize([interpreter, script, "--store", self.directory], log)
        finally:
            os.close(log)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            pid = self.keeper_pid()
            if pid:
                return pid
            time.sleep(0.05)
        raise SessionStoreError(
            f"The session keeper did not start within {wait:g} s; see {os.path.join(self.directory, 'keeper.log')}."
        )

    def stop_keeper(self, wait: float = 10.0) -> bool:
        """Stop the keeper; True when it is gone within wait seconds."""
        pid = self.keeper_pid()
        if pid is None:
            return True
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if process_gone(pid):
                return True
            time.sleep(0.05)
        return False


def daemonize(command: list[str], log: int) -> None:
    """Run command detached: in a session of its own, a child of init, stdout and stderr to log.

    Two forks, so that the keeper is nobody's child here (no zombie, no signal from this task's process group);
    between fork and exec only system calls run, as the forking process may have other threads.
    """
    executable = command[0]
    devnull = os.open(os.devnull, os.O_RDONLY)
    try:
        child = os.fork()
        if child == 0:
            try:
                os.setsid()
                if os.fork() == 0:
                    os.dup2(devnull, 0)
                    os.dup2(log, 1)
                    os.dup2(log, 2)
                    os.execv(executable, command)
            finally:
                os._exit(0)
        os.waitpid(child, 0)
    finally:
        os.close(devnull)


def process_gone(pid: int) -> bool:
    """Whether the process has exited (a zombie waiting for its parent counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def write_file(path: str, content: Any, text: bool = False) -> None:
    """Write a file never seen half written (aside, remove the old, rename), readable by its owner only."""
    # A name of this process and thread, created exclusively with owner-only permissions from the start.
    temporary = f"{os.path.dirname(path)}/.write-{os.getpid()}-{threading.get_ident()}.tmp"
    data = (content if text else json.dumps(content)).encode("utf-8")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.unlink(temporary)  # left by a process that died while writing, whose PID came back
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.rename(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
