# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The session keeper: pacing, self-healing, liveness through its lock, stopping, replacing an old one."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import http_async
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import route as routes
from ansible_collections.cec.cc_gateway.plugins.module_utils._state import keeper as keeper_module
from ansible_collections.cec.cc_gateway.plugins.module_utils._state import keeper_process as process_module
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_process import KeeperProcess
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_protocol import (
    KEEPER_LOG_FILE,
    KEEPER_WAKE_FILE,
    KeeperMailbox,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.store import (
    SessionStore,
    StoreError,
    read_json,
    write_file,
)
from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.keeper_files import (
    kept_report,
    request_keep,
)
from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.servers import Server, reply

EMPTY = reply(b'{"message":"","retcode":"0"}')
EVENT = reply(
    b'{"message":"","retcode":"0","event":{"eventType":"AgentMediaEvent_Record","workNo":"186",'
    b'"content":{"taskId":5086,"fileName":"Y:/a.V3"}}}',
    headers=["Set-GUID: JSESSIONID=rotated"],
)


@pytest.fixture
def store(tmp_path):
    directory = tmp_path / "sessions"
    store = SessionStore(str(directory))
    store.ensure_directory()
    return store


def keep(store, url, agent_id, **route_options):
    store.save(url, agent_id, {"guid": "first", "cookies": [{"name": "LB", "value": "n1"}]})
    route = routes.resolve_route(url, **route_options)
    request_keep(store, url, agent_id, {"route": route.as_dict(), "timeout": 2})


@pytest.fixture
def keeper(store):
    """A keeper serving the store in this process, its event loop in a thread of its own."""
    running = keeper_module.Keeper(store.directory, "test", idle_exit=30, scan_interval=0.1)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(running.run(),), daemon=True)
    thread.start()
    yield running
    loop.call_soon_threadsafe(running.stop)
    thread.join(10)
    loop.close()


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_empty_polls_answered_at_once_are_paced_and_an_event_is_followed_at_once(store, keeper):
    with Server(EVENT, *[EMPTY] * 40) as server:
        keep(store, server.url, 186)
        started = time.monotonic()
        wait_for(lambda: len(server.requests) >= 4)
        elapsed = time.monotonic() - started
        time.sleep(1.0)
        polls = len(server.requests)
        elapsed = time.monotonic() - started
    # The event's answer comes first, the next poll follows at once, then one poll per 500 ms.
    assert polls <= 2 + elapsed / keeper_module.EMPTY_POLL_PAUSE + 1
    assert polls >= 3
    kept = kept_report(store, server.url, 186)
    assert kept["alive"] and kept["healthy"]
    assert kept["guid"] == "rotated"
    assert kept["recording"]["task_id"] == "5086"
    first_request = server.requests[0][1]
    assert (first_request["guid"], first_request["cookie"]) == ("first", "LB=n1")
    assert server.requests[1][1]["guid"] == "rotated"


@pytest.mark.parametrize(
    "bad",
    [
        reply(b"[]"),
        reply(b'"text"'),
        reply(b'{"retcode":"0","event":"x"}'),
        reply(b"<html>proxy error</html>"),
        reply(b"", status="502 Bad Gateway"),
        b"HTTP/1.1 \r\n\r\n",
        reply(b'{"message":"","retcode":"000-007"}'),
    ],
    ids=["array", "string", "event-string", "html", "http-502", "status-without-code", "retcode"],
)
def test_a_bad_answer_is_reported_and_polling_goes_on(store, keeper, bad):
    with Server(bad, *[EMPTY] * 20) as server:
        keep(store, server.url, 186)
        unhealthy = wait_for(
            lambda: (
                (kept_report(store, server.url, 186) or {}).get("healthy") is False
                and kept_report(store, server.url, 186)
            )
        )
        assert unhealthy["alive"] is True
        assert unhealthy["reason"]
        healthy = wait_for(
            lambda: (
                (kept_report(store, server.url, 186) or {}).get("healthy")
                and kept_report(store, server.url, 186)
            )
        )
    assert healthy["alive"] is True
    assert healthy["reason"] is None
    assert len(server.requests) >= 2


def test_a_lost_session_ends_the_agent_and_says_why(store, keeper):
    with Server(reply(b'{"message":"not signed in","retcode":"100-006"}')) as server:
        keep(store, server.url, 186)
        ended = wait_for(
            lambda: (
                (kept_report(store, server.url, 186) or {}).get("alive") is False
                and kept_report(store, server.url, 186)
            )
        )
    assert ended["reason"].startswith("100-006")
    assert ended["recording"] is None


def test_a_keep_request_that_cannot_work_stays_that_agents_problem(store, keeper, tmp_path):
    with Server(*[EMPTY] * 20) as good, Server(*[EMPTY] * 20, tls=None) as other:
        keep(store, good.url, 186)
        # An https route with a CA bundle that does not exist: every poll fails before anything is sent.
        store.save(other.url.replace("http:", "https:"), 187, {"guid": "g"})
        broken = routes.resolve_route(other.url.replace("http:", "https:"), ca_path=str(tmp_path / "no.pem"))
        request_keep(
            store, other.url.replace("http:", "https:"), 187, {"route": broken.as_dict(), "timeout": 2}
        )
        # And a keep request that is not a keep request at all.
        write_file(os.path.join(store.directory, "junk-188.keep.json"), {"agent_id": "x", "gateway_url": "y"})
        bad = wait_for(
            lambda: (kept_report(store, other.url.replace("http:", "https:"), 187) or {}).get("reason")
        )
        wait_for(lambda: len(good.requests) >= 2)
    assert "no.pem" in bad or "CA" in bad
    assert kept_report(store, good.url, 186)["healthy"] is True
    # Not a keep request (no agent number): nobody is kept for it, nothing is written for it.
    assert not os.path.exists(os.path.join(store.directory, "junk-188.kept.json"))
    assert other.requests == []


def test_a_released_agent_stops_being_polled_and_its_report_goes(store, keeper):
    with Server(*[EMPTY] * 40) as server:
        keep(store, server.url, 186)
        wait_for(lambda: len(server.requests) >= 2)
        KeeperMailbox(store).release(server.url, 186)
        time.sleep(1.2)
        count = len(server.requests)
        time.sleep(1.2)
        assert len(server.requests) <= count + 1
    assert kept_report(store, server.url, 186) is None


def test_each_keep_request_touches_keeper_wake_and_the_keeper_takes_it_up_without_its_full_rescan(
    store, keeper, monkeypatch
):
    monkeypatch.setattr(keeper_module, "FULL_SCAN_INTERVAL", 3600.0)
    wake = store.path(KEEPER_WAKE_FILE)
    with Server(*[EMPTY] * 80) as first, Server(*[EMPTY] * 80) as second:
        keep(store, first.url, 186)
        inode = os.stat(wake).st_ino
        wait_for(lambda: first.requests, timeout=3)
        touched = os.stat(wake).st_mtime_ns
        keep(store, second.url, 187)
        # Touched in place (no rename onto the name: a batch's threads all wake the keeper).
        assert os.stat(wake).st_ino == inode and os.stat(wake).st_mtime_ns > touched
        wait_for(lambda: second.requests, timeout=3)


def test_the_keeper_collects_the_whole_heap_itself_every_full_collection_interval(store, keeper, monkeypatch):
    # The keeper's process raises the collector's thresholds (GC_THRESHOLDS), so it collects the whole heap on a
    # timer of its own; with automatic collection off here, only the keeper's own collections are counted.
    import gc

    monkeypatch.setattr(keeper_module, "FULL_COLLECTION_INTERVAL", 0.2)
    full = []

    def count(phase, info):
        if phase == "start" and info["generation"] == 2:
            full.append(time.monotonic())

    gc.disable()
    gc.callbacks.append(count)
    try:
        wait_for(lambda: len(full) >= 3, timeout=5)
    finally:
        gc.callbacks.remove(count)
        gc.enable()
    assert min(later - earlier for earlier, later in zip(full, full[1:])) >= 0.15


def test_the_open_file_limit_is_raised_to_the_hard_limit():
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
        message = keeper_module.raise_open_file_limit()
        raised = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert raised > 256
    assert "raised from 256" in message


# -- the keeper's process, as the modules see it


@pytest.fixture
def process(store):
    control = KeeperProcess(store)
    yield control
    status = control.status(wait_for_start=0)
    if status.running and status.pid:
        os.kill(status.pid, signal.SIGKILL)


def test_a_started_keeper_is_found_by_its_lock_and_exits_when_asked_while_idle(store, process):
    pid, note = process.ensure_running()
    assert note is None
    status = process.status()
    version, _sources = process_module.keeper_sources()
    assert (status.running, status.pid, status.version) == (True, pid, version)
    assert not status.stale
    assert process.ensure_running()[0] == pid  # a second task finds it
    assert process.stop_if_idle()
    wait_for(lambda: not process.status(wait_for_start=0).running)


def test_a_keeper_asked_to_stop_while_an_agent_is_kept_goes_on(store, process):
    with Server(*[EMPTY] * 40) as server:
        keep(store, server.url, 186)
        pid, _note = process.ensure_running()
        wait_for(lambda: kept_report(store, server.url, 186))
        assert process.stop_if_idle()
        time.sleep(0.5)
        assert process.status().pid == pid
        KeeperMailbox(store).release(server.url, 186)
        assert process.stop_if_idle()
        wait_for(lambda: not process.status(wait_for_start=0).running)


def test_a_killed_keeper_is_seen_dead_at_once(store, process):
    pid, _note = process.ensure_running()
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not process.status(wait_for_start=0).running)
    assert "not running" in process.not_counted_on()


def test_a_task_that_starts_a_keeper_in_place_of_a_dead_one_remembers_why(store, process):
    """The agents the dead keeper kept are not vouched for by the new one until each is checked."""
    pid, _note = process.ensure_running()
    finding = KeeperProcess(store)  # a later task that finds it running
    assert finding.ensure_running()[0] == pid
    assert finding.replaced_because is None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not process.status(wait_for_start=0).running)
    replacing = KeeperProcess(store)  # a task after the keeper died
    new_pid, _note = replacing.ensure_running()
    assert new_pid != pid
    assert "not running" in replacing.replaced_because
    assert replacing.not_counted_on() is None  # the new keeper runs and beats


def test_a_hung_keeper_is_stale_and_replaced(store, process, monkeypatch):
    monkeypatch.setattr(process_module, "HEARTBEAT_STALE", 1.0)
    pid, _note = process.ensure_running()
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: process.status().stale, timeout=10)
        new_pid, note = process.ensure_running()
    finally:
        os.kill(pid, signal.SIGCONT)
    assert new_pid != pid
    assert "heartbeat" in note


def test_a_keeper_of_an_older_version_is_replaced(store, process):
    """1.0.0's keeper held keeper.lock and wrote keeper.pid; a new task replaces it and keeps its agents."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, json, os, sys, time\n"
            "fd = os.open(sys.argv[1] + '/keeper.lock', os.O_RDWR | os.O_CREAT, 0o600)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "json.dump({'pid': os.getpid()}, open(sys.argv[1] + '/keeper.pid', 'w'))\n"
            "print('ready', flush=True)\n"
            "time.sleep(30)\n",
            store.directory,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert process.status().version == "1.0.0"
        pid, note = process.ensure_running()
        assert holder.wait(10) == -signal.SIGTERM
    finally:
        if holder.poll() is None:
            holder.kill()
    assert pid != holder.pid
    assert "another collection version (1.0.0)" in note
    assert not os.path.exists(os.path.join(store.directory, "keeper.pid"))


def test_probes_never_make_a_keeper_look_alive(store, process):
    """Many tasks probing at once (a shared lock each) never see a keeper where none runs."""
    seen = []

    def probe():
        for _attempt in range(200):
            seen.append(process.status(wait_for_start=0).running)

    with open(os.path.join(store.directory, "keeper.lock"), "w"):
        pass
    threads = [threading.Thread(target=probe) for _prober in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not any(seen)


def test_without_aiohttp_no_keeper_is_started_and_the_reason_is_named(store, process, monkeypatch):
    monkeypatch.setattr(http_async, "aiohttp_missing", lambda: "No module named 'aiohttp'")
    with pytest.raises(StoreError) as caught:
        process.ensure_running(wait=1.0)
    assert "needs the Python library aiohttp" in str(caught.value)
    assert not process.status(wait_for_start=0).running
    assert not os.path.exists(store.path(KEEPER_LOG_FILE))


def test_the_keeper_copy_holds_every_module_of_the_collection_it_imports_and_nothing_of_ansible():
    """The keeper runs from its copy alone; a module it imported from anywhere else would come from elsewhere."""
    _version, sources = process_module.keeper_sources()
    assert {"_state.keeper", "_state.store", "_api.client", "_api.http_async", "_api.errors"} <= set(sources)
    # imported inside a function (on the first failure of a requests exchange): found all the same
    assert "_api.http_failures" in sources
    imports = re.compile(r"plugins\.module_utils\.([\w.]+)\s+import\s+\(?([\w\s,]+)\)?")
    for name, source in sources.items():
        text = source.decode("utf-8")
        assert not re.search(r"^\s*(from|import) ansible[ .]", text, re.MULTILINE), name
        for module, names in imports.findall(text):
            if module in ("_api", "_state"):
                wanted = {f"{module}.{item.split()[0]}" for item in names.split(",") if item.strip()}
            else:
                wanted = {module}
            assert wanted <= set(sources), (name, wanted - set(sources))


def test_the_keeper_refuses_a_store_open_to_others(store, tmp_path):
    os.chmod(store.directory, 0o755)
    assert keeper_module.main(["--store", store.directory, "--idle-exit", "0.1"]) == 2


def test_files_are_replaced_atomically_so_readers_never_miss_them(tmp_path):
    path = str(tmp_path / "kept.json")
    write_file(path, {"n": 0})
    stop = threading.Event()
    missing = []

    def read():
        while not stop.is_set():
            if read_json(path) is None:
                missing.append(1)

    reader = threading.Thread(target=read)
    reader.start()
    for count in range(2000):
        write_file(path, {"n": count})
    stop.set()
    reader.join()
    assert missing == []
    assert read_json(path) == {"n": 1999}
    assert [name for name in os.listdir(tmp_path) if name.endswith(".tmp")] == []
