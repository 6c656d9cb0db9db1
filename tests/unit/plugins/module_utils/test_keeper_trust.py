# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the keeper and the store trust: the lease that ends kept agents, the keeper's isolation from the
caller's directory, a store that another user could re-point, files that are not what they seem."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time

import pytest
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import route as routes
from ansible_collections.cec.cc_gateway.plugins.module_utils._event_info import event_info
from ansible_collections.cec.cc_gateway.plugins.module_utils._state import keeper as keeper_module
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_process import KeeperProcess
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_protocol import KeeperMailbox
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

OK = b'{"message":"success","retcode":"0","result":{}}'
NOBODY = 65534


class Gateway(Server):
    """Answers by request: event polls empty (held a little), stop and sign-out as the gateway would."""

    def __init__(self, answers: dict[str, bytes] | None = None) -> None:
        super().__init__()
        self.routes = {"stoprecord": OK, "logout": OK, **(answers or {})}

    def serve(self, conn, reader):
        from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.servers import read_request

        while (request := read_request(reader)) is not None:
            self.requests.append(request)
            line = request[0]
            if "/agentevent/" in line:
                self.stopping.wait(0.2)
                conn.sendall(reply(b'{"message":"","retcode":"0"}'))
                continue
            body = next((answer for key, answer in self.routes.items() if f"/{key} " in line), OK)
            conn.sendall(reply(body))

    def sent(self, word):
        return [request for request in self.requests if word in request[0]]


@pytest.fixture
def store(tmp_path):
    store = SessionStore(str(tmp_path / "sessions"))
    store.ensure_directory()
    return store


def keep(store, url, agent_id, lease, guid="g-186"):
    store.save(url, agent_id, {"guid": guid, "signed_in_by": "module"})
    route = routes.resolve_route(url)
    request_keep(store, url, agent_id, {"route": route.as_dict(), "timeout": 2, "lease": lease})


class Running:
    """A keeper serving a store in this process, its event loop in a thread of its own."""

    def __init__(self, directory, idle_exit=30.0):
        self.keeper = keeper_module.Keeper(directory, "test", idle_exit=idle_exit, scan_interval=0.05)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(self.keeper.run(),), daemon=True
        )
        self.thread.start()

    def close(self):
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.keeper.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def running(store):
    keepers = []

    def start(**options):
        keepers.append(Running(store.directory, **options))
        return keepers[-1]

    yield start
    for keeper in keepers:
        keeper.close()


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


# -- the lease


def test_a_lease_that_runs_out_stops_the_recording_and_signs_the_agent_out(store, running):
    with Gateway() as gateway:
        keep(store, gateway.url, 186, lease=1)
        running()
        report = wait_for(
            lambda: (
                (kept_report(store, gateway.url, 186) or {}).get("alive") is False
                and kept_report(store, gateway.url, 186)
            )
        )
        stops, logouts = gateway.sent("stoprecord"), gateway.sent("logout")
    assert [request[0].split()[0] for request in stops + logouts] == ["DELETE", "DELETE"]
    assert stops[0][1]["guid"] == logouts[0][1]["guid"] == "g-186"
    assert "keepalive_lease of 1 s ran out" in report["reason"]
    assert "stop_recording: done; sign_out: done" in report["reason"]
    assert "g-186" not in report["reason"]


def test_a_lease_that_runs_out_with_nothing_recording_still_signs_out(store, running):
    no_task = b'{"message":"no recording","retcode":"100-007"}'
    with Gateway({"stoprecord": no_task}) as gateway:
        keep(store, gateway.url, 186, lease=1)
        running()
        report = wait_for(
            lambda: (
                (kept_report(store, gateway.url, 186) or {}).get("alive") is False
                and kept_report(store, gateway.url, 186)
            )
        )
        assert gateway.sent("logout")
    assert "stop_recording: nothing to end (100-007); sign_out: done" in report["reason"]


def test_every_task_for_the_agent_renews_the_lease(store, running):
    with Gateway() as gateway:
        keep(store, gateway.url, 186, lease=1)
        running()
        wait_for(lambda: kept_report(store, gateway.url, 186))
        for _renewal in range(8):
            KeeperMailbox(store).renew_keep(gateway.url, 186)
            time.sleep(0.3)
        assert kept_report(store, gateway.url, 186)["alive"]
        assert not gateway.sent("logout")


def test_a_lease_of_zero_keeps_the_agent_until_signed_out(store, running):
    with Gateway() as gateway:
        keep(store, gateway.url, 186, lease=0)
        running()
        time.sleep(1.5)
        assert kept_report(store, gateway.url, 186)["alive"]
        assert not gateway.sent("logout")


def test_a_keeper_whose_agents_all_ended_exits_and_a_new_one_does_not_keep_them_again(store, running):
    with Gateway() as gateway:
        keep(store, gateway.url, 186, lease=1)
        first = running(idle_exit=0.5)
        wait_for(lambda: not first.thread.is_alive(), timeout=15)
        assert len(gateway.sent("logout")) == 1
        polls = len(gateway.sent("agentevent"))
        running(idle_exit=0.5)
        time.sleep(1)
        assert len(gateway.sent("agentevent")) == polls
        assert "ran out" in kept_report(store, gateway.url, 186)["reason"]
        params = {"agent_id": 186, "gateway_url": gateway.url, "timeout": 5, "session_dir": store.directory}
        seen = event_info(dict(params, agent_id=None, agents=[{"agent_id": 186}, {"agent_id": 187}]))
    assert seen["failed"] is True  # 187 is not kept; 186's ended session is reported, keeper or not
    first, second = seen["results"]
    assert (first["failed"], first["session_alive"]) == (False, False)
    assert "keepalive_lease of 1 s ran out" in first["session_end_reason"]
    assert "not kept by the session keeper" in second["msg"]
    assert "1 of 2 agents failed: agent 187" in seen["msg"]


def test_a_new_lease_for_a_kept_agent_applies_from_then_on(store, running):
    with Gateway() as gateway:
        keep(store, gateway.url, 186, lease=0)
        running()
        wait_for(lambda: kept_report(store, gateway.url, 186))
        assert KeeperMailbox(store).update_lease(gateway.url, 186, 1)
        wait_for(lambda: gateway.sent("logout"))
        # The report says why once the keeper has ended what it kept (the sign-out above is part of that).
        reason = wait_for(lambda: (kept_report(store, gateway.url, 186) or {}).get("reason"))
    assert "keepalive_lease of 1 s ran out" in reason


def test_a_lease_is_not_ended_while_a_task_works_on_the_agent(store, running):
    with Gateway() as gateway:
        keep(store, gateway.url, 186, lease=1)
        running()
        with store.locked(gateway.url, 186):
            time.sleep(2.5)
            assert not gateway.sent("logout"), "the keeper signed out an agent a task was working on"
        wait_for(lambda: gateway.sent("logout"))


def test_reading_an_agents_events_renews_its_lease(store):
    with Gateway() as gateway:
        keep(store, gateway.url, 186, lease=600)
        process = KeeperProcess(store)
        pid, _note = process.ensure_running()
        try:
            wait_for(lambda: kept_report(store, gateway.url, 186))
            keep_file = store.stem(gateway.url, 186) + ".keep.json"
            os.utime(keep_file, (time.time() - 500, time.time() - 500))
            before = time.time()
            seen = event_info(
                {"agent_id": 186, "gateway_url": gateway.url, "timeout": 5, "session_dir": store.directory}
            )
            assert seen["session_alive"]
            assert os.stat(keep_file).st_mtime >= before - 1
        finally:
            os.kill(pid, signal.SIGKILL)


# -- the keeper's process: nothing from the caller's directory


def test_nothing_in_the_callers_directory_is_imported_by_the_keeper(store, tmp_path, monkeypatch):
    planted = tmp_path / "planted"
    planted.mkdir()
    marker = tmp_path / "imported"
    for name in ("argparse", "asyncio", "json", "aiohttp"):
        (planted / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write({name!r})\n")
    monkeypatch.chdir(planted)
    monkeypatch.setenv("PYTHONSAFEPATH", "")
    process = KeeperProcess(store)
    pid, _note = process.ensure_running()
    try:
        assert process.status().running
        with open(f"/proc/{pid}/cwd/keeper.lock", "rb"):
            pass  # it runs in the store
        assert os.path.samefile(os.readlink(f"/proc/{pid}/cwd"), store.directory)
    finally:
        os.kill(pid, signal.SIGKILL)
    assert not marker.exists(), f"the keeper imported {marker.read_text()} from the caller's directory"


# -- the store: symlinks, other users, files that are not files


def test_a_symlinked_store_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(StoreError, match="is a symlink"):
        SessionStore(str(link)).save("https://gw:8043", 186, {"guid": "g"})


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory to another user")
def test_a_store_below_a_directory_another_user_may_write_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(StoreError, match=r"inside .*shared, which other users may write \(mode 777\)"):
        SessionStore(str(shared / "sessions")).save("https://gw:8043", 186, {"guid": "g"})
    os.chmod(shared, 0o1777)  # sticky, as /tmp: nobody may rename what others own
    SessionStore(str(shared / "sessions")).save("https://gw:8043", 186, {"guid": "g"})
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, NOBODY, NOBODY)
    with pytest.raises(StoreError, match=f"belongs to another user \\(uid {NOBODY}\\)"):
        SessionStore(str(theirs / "sessions")).save("https://gw:8043", 186, {"guid": "g"})


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory to another user")
def test_event_info_refuses_a_store_of_another_user(tmp_path):
    store = SessionStore(str(tmp_path / "theirs"))
    store.save("https://gw:8043", 186, {"guid": "g"})
    write_file(
        store.path("forged.kept.json"), {"alive": True, "events": [{"event_type": "AgentMediaEvent_Record"}]}
    )
    os.chown(store.directory, NOBODY, NOBODY)
    params = {"agent_id": 186, "gateway_url": "https://gw:8043", "timeout": 5, "session_dir": store.directory}
    with pytest.raises(StoreError, match="belongs to another user"):
        event_info(params)


def test_a_swapped_store_path_does_not_steer_a_running_keeper(store, running, tmp_path):
    with Gateway() as gateway, Gateway() as attacker:
        keep(store, gateway.url, 186, lease=0)
        running()
        wait_for(lambda: kept_report(store, gateway.url, 186))
        forged = tmp_path / "forged"
        forged.mkdir(mode=0o700)
        write_file(str(forged / "abc-999.json"), {"guid": "forged"})
        route = routes.resolve_route(attacker.url).as_dict()
        write_file(
            str(forged / "abc-999.keep.json"), {"route": route, "gateway_url": attacker.url, "agent_id": 999}
        )
        os.rename(store.directory, str(tmp_path / "moved"))
        os.symlink(str(forged), store.directory)
        time.sleep(1)
        assert not attacker.requests
        assert read_json(
            str(tmp_path / "moved" / os.path.basename(store.stem(gateway.url, 186))) + ".kept.json"
        )["alive"]


def test_a_fifo_in_place_of_a_session_file_is_refused_at_once(store):
    path = store.stem("https://gw:8043", 186) + ".json"
    os.mkfifo(path, 0o600)
    started = time.monotonic()
    with pytest.raises(StoreError, match="not a regular file"):
        store.load("https://gw:8043", 186)
    assert time.monotonic() - started < 5


def test_a_huge_or_odd_guid_in_a_session_file_is_refused(store):
    path = store.stem("https://gw:8043", 186) + ".json"
    write_file(path, {"guid": "x" * 300})
    with pytest.raises(StoreError, match="cannot be one"):
        store.load("https://gw:8043", 186)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps({"guid": "x" * (5 * 1024 * 1024)}))
    with pytest.raises(StoreError, match="larger than"):
        store.load("https://gw:8043", 186)


def test_an_agent_lock_is_waited_for_within_a_bound(store, monkeypatch):
    from ansible_collections.cec.cc_gateway.plugins.module_utils._state import store as store_module

    monkeypatch.setattr(store_module, "AGENT_LOCK_WAIT", 0.5)
    other = SessionStore(store.directory)
    busy = r"Agent 186 was busy for 0.5 s: another task on this machine holds"
    with store.locked("https://gw:8043", 186), pytest.raises(StoreError, match=busy):  # noqa: SIM117
        with other.locked("https://gw:8043", 186):
            pass


def test_kept_reports_with_a_forged_guid_give_no_guid(store):
    write_file(
        store.stem("https://gw:8043", 186) + ".kept.json", {"alive": True, "guid": "bad guid\r\nX-Evil: 1"}
    )
    assert kept_report(store, "https://gw:8043", 186)["guid"] is None


def test_pythonpath_of_the_task_does_not_reach_the_keeper(store, tmp_path, monkeypatch):
    planted = tmp_path / "on-pythonpath"
    planted.mkdir()
    marker = tmp_path / "imported"
    (planted / "argparse.py").write_text(f"open({str(marker)!r}, 'a').write('argparse')\n")
    monkeypatch.setenv("PYTHONPATH", str(planted))
    monkeypatch.syspath_prepend(str(planted))
    process = KeeperProcess(store)
    pid, _note = process.ensure_running()
    try:
        assert process.status().running
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            assert str(planted).encode() not in handle.read()
    finally:
        os.kill(pid, signal.SIGKILL)
    assert not marker.exists()
