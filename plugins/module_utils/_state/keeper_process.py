# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The session keeper's process, seen from the modules: is it alive, start it, stop it, replace an old one.

Liveness is the lock the keeper holds on keeper.lock for as long as it runs (flock works on Linux and macOS;
the kernel drops it when the process dies, whatever killed it). A module probes it with a shared lock, which
never disturbs another probe. The keeper also writes a heartbeat into keeper.json; one that stopped beating
is treated as dead, and a keeper of another collection version (other sources) is replaced.

The keeper runs from a copy of its sources in the store (keeper/<version>/), made from the code that runs
the task: a shipped module's files vanish when it exits, and a collection upgraded under a running keeper
must not change it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
import importlib.util
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ansible_collections.cec.cc_gateway.plugins.module_utils._api.errors import KeeperError
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_protocol import (
    KEEPER_LEGACY_PID_FILE,
    KEEPER_LOCK_FILE,
    KEEPER_LOG_FILE,
    KEEPER_START_LOCK_FILE,
    KEEPER_STATUS_FILE,
    KEEPER_STOP_FILE,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.store import (
    SessionStore,
    StoreError,
    read_json,
    take_lock,
    write_file,
)

PACKAGE = "ansible_collections.cec.cc_gateway.plugins.module_utils"
# The keeper's entry module; what it imports of this package (none of it imports Ansible) is found from the
# sources themselves, so the copy holds exactly the modules the keeper runs.
KEEPER_MODULE = "_state.keeper"
HEARTBEAT_STALE = 30.0
KEEPER_START_WAIT = 10.0
# Another task may hold the start lock while it starts a keeper (KEEPER_START_WAIT) or waits for one to stop.
START_LOCK_WAIT = 60.0
# The keeper runs isolated (-I: no current directory, no user site, no PYTHON* variables on its path); this
# puts its own copy first on sys.path and the directories where the task found the keeper's libraries last,
# after the interpreter's own.
BOOTSTRAP = (
    "import sys; end = sys.argv.index('--'); sys.path.insert(0, sys.argv[1]); sys.path.extend(sys.argv[2:end]); "
    f"from {PACKAGE}.{KEEPER_MODULE} import main; sys.exit(main(sys.argv[end + 1 :]))"
)
# What the keeper imports from outside the standard library (their own dependencies lie beside them).
KEEPER_LIBRARIES = ("aiohttp", "requests", "urllib3", "jsonschema")


def _source(name: str) -> bytes:
    """A module's source, found, not imported: the controller need not import (nor compile) the keeper, nor
    aiohttp that it imports, to copy them."""
    spec = importlib.util.find_spec(f"{PACKAGE}.{name}")
    try:
        source = spec.loader.get_source(spec.name) if spec is not None and spec.loader is not None else None
    except (ImportError, OSError):
        source = None
    if source is None:
        raise KeeperError(f"The session keeper's source {name}.py cannot be read.")
    # Bytes from Ansible's collection loader, text from Python's own loaders.
    return source if isinstance(source, bytes) else source.encode("utf-8")


def _is_package(module: str) -> bool:
    spec = importlib.util.find_spec(module)
    return spec is not None and spec.submodule_search_locations is not None


def _imported(source: bytes) -> list[str]:
    """The modules of this package a source imports (absolute imports, as the collection writes them)."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE + "."):
            name = node.module[len(PACKAGE) + 1 :]
            if _is_package(node.module):
                found.extend(f"{name}.{alias.name}" for alias in node.names)  # from a package: its modules
            else:
                found.append(name)
    return found


def keeper_library_missing() -> str | None:
    """Why no keeper can run on this host (aiohttp not importable), or None. The keeper's transport is imported
    only here, when a keeper is wanted: a task that starts none does not compile it."""
    from ansible_collections.cec.cc_gateway.plugins.module_utils._api import http_async

    return http_async.aiohttp_missing()


def _carried_by_ansiballz() -> None:
    """Never called. It names the keeper so that a shipped module's payload (AnsiballZ, which follows every
    import in the source) carries the keeper and what it imports: they are copied into the store and run there,
    never imported by a task."""
    from ansible_collections.cec.cc_gateway.plugins.module_utils._state import keeper  # noqa: F401


@functools.lru_cache(maxsize=1)
def keeper_sources() -> tuple[str, dict[str, bytes]]:
    """The keeper's version (a digest of its sources) and the sources by dotted module name: the keeper's module
    and every module of this package it imports, directly or not."""
    sources: dict[str, bytes] = {}
    pending = [KEEPER_MODULE]
    while pending:
        name = pending.pop()
        if name not in sources:
            sources[name] = _source(name)
            pending.extend(_imported(sources[name]))
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(name.encode() + b"\0" + sources[name] + b"\0")
    return digest.hexdigest()[:16], dict(sorted(sources.items()))


@dataclass
class KeeperStatus:
    running: bool
    pid: int | None = None
    version: str | None = None
    heartbeat_age: float | None = None

    @property
    def stale(self) -> bool:
        return self.running and self.heartbeat_age is not None and self.heartbeat_age > HEARTBEAT_STALE


def _not_counted_on(status: KeeperStatus) -> str | None:
    """Why a keeper found in this state cannot vouch for the sessions it kept (None: it can)."""
    if not status.running:
        return "it is not running any more (it was stopped or crashed)"
    if status.stale:
        return f"it has not written its heartbeat for {status.heartbeat_age:.0f} s (it hangs or is stopped)"
    return None


class KeeperProcess:
    def __init__(self, store: SessionStore) -> None:
        self.store = store
        # Why the keeper this task found could not be counted on, once this task started a new one: the agents
        # the old keeper kept are not known to be alive until each is checked.
        self.replaced_because: str | None = None

    @property
    def log_path(self) -> str:
        return self.store.path(KEEPER_LOG_FILE)

    def _lock_held(self) -> bool:
        """Whether a keeper holds keeper.lock (a shared probe never conflicts with another probe)."""
        try:
            fd = os.open(self.store.path(KEEPER_LOCK_FILE), os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return True
            raise
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)

    def status(self, wait_for_start: float = 2.0) -> KeeperStatus:
        """The keeper as it is now; a keeper that holds the lock but has not written its status yet is awaited."""
        deadline = time.monotonic() + wait_for_start
        while True:
            if not self._lock_held():
                return KeeperStatus(False)
            data = read_json(self.store.path(KEEPER_STATUS_FILE))
            if data and isinstance(data.get("pid"), int):
                beat = data.get("heartbeat_at")
                age = time.time() - beat if isinstance(beat, (int, float)) else None
                return KeeperStatus(True, data["pid"], data.get("version"), age)
            legacy = read_json(self.store.path(KEEPER_LEGACY_PID_FILE))
            if legacy and isinstance(legacy.get("pid"), int):
                return KeeperStatus(True, legacy["pid"], "1.0.0")
            if time.monotonic() >= deadline:
                return KeeperStatus(True)
            time.sleep(0.05)

    def not_counted_on(self) -> str | None:
        """Why the keeper as it is now cannot vouch for the sessions it keeps (None: it runs and beats)."""
        return _not_counted_on(self.status())

    @contextlib.contextmanager
    def _start_lock(self) -> Iterator[None]:
        """Starting, stopping and the keeper's own idle exit take turns (see the keeper's idle exit)."""
        self.store.ensure_directory()
        fd = take_lock(
            self.store.path(KEEPER_START_LOCK_FILE),
            START_LOCK_WAIT,
            "Starting or stopping the session keeper",
        )
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def ensure_running(self, wait: float = KEEPER_START_WAIT) -> tuple[int, str | None]:
        """Start the keeper unless a current one runs; replace a stale or older one. Returns (pid, note)."""
        version, sources = keeper_sources()
        status = self.status()
        if status.running and status.version == version and not status.stale and status.pid:
            return status.pid, None  # the common case, without queueing on the start lock
        with self._start_lock():
            status = self.status()
            note = None
            if status.running and status.version == version and not status.stale and status.pid:
                return status.pid, None
            missing = keeper_library_missing()
            if missing:
                raise StoreError(
                    "The session keeper needs the Python library aiohttp on the host that runs the task "
                    f"({missing}); install it there (pip install -r requirements.txt of cec.cc_gateway)."
                )
            self.replaced_because = self.replaced_because or _not_counted_on(status)
            if status.running:
                why = (
                    f"had not written its heartbeat for {status.heartbeat_age:.0f} s"
                    if status.stale
                    else f"was of another collection version ({status.version or 'unknown'})"
                )
                note = f"The running session keeper (pid {status.pid}) {why}; it was replaced."
                self._terminate(status, wait)
            return self._spawn(version, sources, wait), note

    def stop_if_idle(self, wait: float = 10.0) -> bool:
        """Ask the keeper to exit if it keeps no agent; False when it neither exited nor declined in time.

        The keeper decides after reading the request, from the keep requests it then finds, so an agent that
        a task keeps at the same moment is either seen (the keeper stays) or kept by a keeper that this task's
        start lock lets the other task start afterwards.
        """
        with self._start_lock():
            if not self.status(wait_for_start=0).running:
                return True
            stop_path = self.store.path(KEEPER_STOP_FILE)
            write_file(stop_path, {"requested_at": time.time()})
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if not self._lock_held() or not os.path.exists(stop_path):
                    return True
                time.sleep(0.05)
            return False

    def _terminate(self, status: KeeperStatus, wait: float) -> None:
        """End a keeper that holds the lock (so its pid is its own, not a reused one)."""
        if status.pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(status.pid, signal.SIGTERM)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not self._lock_held():
                return
            time.sleep(0.05)
        if status.pid and self._lock_held():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(status.pid, signal.SIGKILL)
            time.sleep(0.2)
        if self._lock_held():
            raise StoreError(
                f"The old session keeper (pid {status.pid}) of {self.store.directory} does not stop; end it "
                "by hand."
            )

    def _install(self, version: str, sources: dict[str, bytes]) -> str:
        """Copy the keeper's sources into the store (once per version); return the directory to import from."""
        root = self.store.path(os.path.join("keeper", version))
        package = os.path.join(root, *PACKAGE.split("."))
        entry = os.path.join(package, *KEEPER_MODULE.split(".")) + ".py"
        if not os.path.exists(entry):
            # Regular packages all the way down, so that no other ansible_collections on the path shadows them.
            folders = {os.path.dirname(os.path.join(package, *name.split("."))) for name in sources}
            for folder in sorted(folders):
                os.makedirs(folder, mode=0o700, exist_ok=True)
                while folder != root:
                    write_file(os.path.join(folder, "__init__.py"), "", text=True)
                    folder = os.path.dirname(folder)
            # The entry module last: its presence says the copy is whole.
            for name, source in sorted(sources.items(), key=lambda item: item[0] == KEEPER_MODULE):
                path = os.path.join(package, *name.split(".")) + ".py"
                write_file(path, source.decode("utf-8"), text=True)
        return root

    def _spawn(self, version: str, sources: dict[str, bytes], wait: float) -> int:
        root = self._install(version, sources)
        # What a dead keeper left must not pass for the new one's status.
        for leftover in (KEEPER_STOP_FILE, KEEPER_STATUS_FILE, KEEPER_LEGACY_PID_FILE):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.store.path(leftover))
        environment = {
            key: value for key, value in os.environ.items() if key in ("PATH", "LANG", "LC_ALL", "TZ", "HOME")
        }
        command = [
            sys.executable,
            "-I",
            "-B",
            "-c",
            BOOTSTRAP,
            root,
            *library_paths(),
            "--",
            "--store",
            self.store.directory,
            "--version",
            version,
        ]
        log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        try:
            daemonize(command, environment, log, self.store.directory)
        finally:
            os.close(log)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            status = self.status(wait_for_start=0)
            if status.running and status.pid and status.version == version:
                return status.pid
            time.sleep(0.05)
        raise StoreError(f"The session keeper did not start within {wait:g} s; see {self.log_path}.")


def library_paths() -> list[str]:
    """The directories the task imported the keeper's libraries from (their sys.path entries), never the current
    directory: nothing else of the task's path, its working directory or PYTHONPATH reaches the keeper. (The
    task itself trusts these directories already: it imports the same libraries from them.)"""
    import importlib

    here = os.path.realpath(os.getcwd())
    paths = []
    for name in KEEPER_LIBRARIES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue  # the keeper says what it misses when it starts
        directory = os.path.dirname(os.path.dirname(os.path.abspath(module.__file__ or "")))
        if directory not in paths and os.path.isdir(directory) and os.path.realpath(directory) != here:
            paths.append(directory)
    return paths


def daemonize(command: list[str], environment: dict[str, str], log: int, directory: str) -> None:
    """Run command detached in directory: in a session of its own, a child of init, stdout and stderr to log.

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
                    os.chdir(directory)
                    os.dup2(devnull, 0)
                    os.dup2(log, 1)
                    os.dup2(log, 2)
                    os.execve(executable, command, environment)
            finally:
                os._exit(0)
        os.waitpid(child, 0)
    finally:
        os.close(devnull)
