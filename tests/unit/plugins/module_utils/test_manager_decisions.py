# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the managers decide, seen only through the task entry points and the session store on disk.

Every task runs against a real HTTP server on 127.0.0.1 that answers each agent's requests from a script, in
order, and remembers what it received; each test asserts on the task's result and on those requests. A kept
agent is simulated with the store's own files: keeper.lock held and a fresh heartbeat in keeper.json (what a
running keeper shows the tasks), and the agent's report written the way the keeper writes it. No keeper runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, NamedTuple

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.cec.cc_gateway.plugins.module_utils._batch import fan_out
from ansible_collections.cec.cc_gateway.plugins.module_utils._event_info import event_info

# The collection, in one block: re-point these when the module_utils are reorganised.
from ansible_collections.cec.cc_gateway.plugins.module_utils._options import (
    ONE_AGENT_OR_MANY,
    SESSION_AGENTS,
    event_info_spec,
    record_spec,
    session_spec,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._record import RecordTask
from ansible_collections.cec.cc_gateway.plugins.module_utils._signin import SessionTask
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_process import keeper_sources
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_protocol import (
    KEEP_SUFFIX,
    KEEPER_LOCK_FILE,
    KEEPER_STATUS_FILE,
    KEEPER_STOP_FILE,
    KEPT_SUFFIX,
    KeeperMailbox,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.store import (
    SessionStore,
    read_json,
    take_lock,
    write_file,
)
from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.keeper_files import kept_report

API = "/agentgateway/resource/"
PASSWORD = "Pw-186!"
PHONE = "70186"
RECORD_BODY = {"mediaType": 5, "recordMode": 0, "recordFormat": 0}

# -- the gateway


class Sent(NamedTuple):
    """One request as the gateway received it: the path below /agentgateway/resource/."""

    method: str
    path: str
    guid: str | None
    body: Any


@dataclass
class Answer:
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    # Run before the answer goes out: what happens elsewhere meanwhile (the keeper learning a newer GUID).
    before: Callable[[], None] | None = None
    # Answer every further request of the agent the same way.
    repeat: bool = False


def ok(**result: Any) -> Answer:
    return Answer({"message": "success", "retcode": "0", "result": result})


def refused(retcode: str) -> Answer:
    return Answer({"message": "refused", "retcode": retcode})


def signed_in(guid: str) -> Answer:
    return Answer({"message": "success", "retcode": "0", "result": {}}, {"Set-GUID": f"JSESSIONID={guid}"})


def started(task_id: str) -> Answer:
    return ok(taskId=task_id)


def event(event_type: str, **content: Any) -> Answer:
    body = {"eventType": event_type, "workNo": "186", "content": content}
    return Answer({"message": "", "retcode": "0", "event": body})


IDLE = ok(agentState=4, isWorking=False)
EMPTY_POLL = Answer({"message": "", "retcode": "0"})


class Gateway:
    """Answers each agent's requests in order from its script (an unscripted request gets HTTP 500, which no
    task takes for an answer) and keeps every request it received."""

    def __init__(self) -> None:
        self.scripts: dict[int, deque[Answer]] = {}
        self.received: list[Sent] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                path = path[len(API) :] if path.startswith(API) else path
                sent = Sent(self.command, path, self.headers.get("Guid"), json.loads(raw) if raw else None)
                answer = owner.next_answer(sent)
                if answer is None:
                    self.send_response(500)
                    body = b"unscripted"
                else:
                    if answer.before:
                        answer.before()
                    self.send_response(200)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    body = json.dumps(answer.body).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_DELETE = do_POST = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def next_answer(self, sent: Sent) -> Answer | None:
        with self.lock:
            self.received.append(sent)
            parts = sent.path.split("/")
            script = self.scripts.get(int(parts[1])) if len(parts) > 1 and parts[1].isdigit() else None
            if not script:
                return None
            return script[0] if script[0].repeat else script.popleft()

    def script(self, agent_id: int, *answers: Answer) -> None:
        with self.lock:
            self.scripts.setdefault(agent_id, deque()).extend(answers)

    def take(self, agent_id: int | None = None) -> list[tuple[str, str, str | None]]:
        """(method, path, Guid header) of the requests received since the last take, for one agent or all."""
        with self.lock:
            taken, self.received = self.received, []
        return [
            (sent.method, sent.path, sent.guid)
            for sent in taken
            if agent_id is None or sent.path.split("/")[1] == str(agent_id)
        ]

    def bodies(self, word: str) -> list[Any]:
        with self.lock:
            return [sent.body for sent in self.received if word in sent.path]

    def unanswered(self) -> dict[int, int]:
        """Scripted answers nobody asked for."""
        with self.lock:
            return {
                agent: len(script)
                for agent, script in self.scripts.items()
                if script and not script[0].repeat
            }

    def __enter__(self) -> Gateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- a keeper as the tasks see it


class KeeperStandIn:
    """What a running keeper shows the tasks, without polling anything: keeper.lock held, a fresh heartbeat
    of the current keeper version in keeper.json, and per agent the report the keeper writes. Asked to stop,
    it exits when no agent is kept any more and declines otherwise, as the keeper does. Its pid is that of a
    sleeping child process, so that nothing a task does to "the keeper" reaches the test."""

    def __init__(self, store: SessionStore) -> None:
        self.store = store
        self.pid_holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        self.lock: int | None = take_lock(store.path(KEEPER_LOCK_FILE), 1.0, "the stand-in keeper")
        self.stop_requests = 0
        version, _sources = keeper_sources()
        status = {"pid": self.pid_holder.pid, "version": version, "started_at": time.time()}
        write_file(store.path(KEEPER_STATUS_FILE), dict(status, heartbeat_at=time.time(), agents=0))
        self.closing = threading.Event()
        self.watcher = threading.Thread(target=self._watch_stop_requests, daemon=True)
        self.watcher.start()

    @property
    def pid(self) -> int:
        return self.pid_holder.pid

    def _watch_stop_requests(self) -> None:
        stop_path = self.store.path(KEEPER_STOP_FILE)
        while not self.closing.wait(0.02):
            if not os.path.exists(stop_path):
                continue
            self.stop_requests += 1
            if KeeperMailbox(self.store).kept_agents() == 0:
                self.exit()
            os.unlink(stop_path)

    def exit(self) -> None:
        """End as a keeper ends (or dies): its status goes, its lock is released."""
        if self.lock is None:
            return
        if os.path.exists(self.store.path(KEEPER_STATUS_FILE)):
            os.unlink(self.store.path(KEEPER_STATUS_FILE))
        os.close(self.lock)
        self.lock = None

    def close(self) -> None:
        self.closing.set()
        self.watcher.join(5)
        self.exit()
        self.pid_holder.kill()
        self.pid_holder.wait(5)

    def report(
        self,
        url: str,
        agent_id: int,
        guid: str | None,
        *,
        alive: bool = True,
        reason: str | None = None,
        events: list[dict[str, Any]] | None = None,
        recording: dict[str, Any] | None = None,
        ended_tasks: list[str] | None = None,
        generation: int | None = None,
    ) -> None:
        """Write the agent's report as the keeper does: the keep request's stem, suffix .kept.json."""
        now = int(time.time() * 1000)
        state = {
            "agent_id": agent_id,
            "gateway_url": url,
            "generation": KeeperMailbox(self.store).keep_generation(url, agent_id)
            if generation is None
            else generation,
            "guid": guid,
            "lease": 0,
            "alive": alive,
            "healthy": alive,
            "reason": reason,
            "failures": 0,
            "kept_since": now,
            "last_poll_at": now,
            "polls": 1,
            "guid_rotations": 0,
            "events": events or [],
            "recording": recording,
            "ended_tasks": ended_tasks or [],
            "updated_at": now,
        }
        write_file(report_path(self.store, url, agent_id), json.dumps(state), text=True)


def report_path(store: SessionStore, url: str, agent_id: int) -> str:
    """The agent's report file: beside its keep request, as the keeper names it."""
    for name in os.listdir(store.directory):
        if name.endswith(KEEP_SUFFIX):
            request = read_json(store.path(name)) or {}
            if request.get("agent_id") == agent_id and request.get("gateway_url") == url:
                return store.path(name[: -len(KEEP_SUFFIX)] + KEPT_SUFFIX)
    raise AssertionError(f"agent {agent_id} has no keep request")


def kept_event(event_type: str, received_at: int | None = None, **content: Any) -> dict[str, Any]:
    stamp = int(time.time() * 1000) if received_at is None else received_at
    return {"event_type": event_type, "content": content, "received_at": stamp}


# -- fixtures and task parameters


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def gateway():
    with Gateway() as running:
        yield running


@pytest.fixture
def store(tmp_path):
    store = SessionStore(str(tmp_path / "sessions"))
    store.ensure_directory()
    return store


@pytest.fixture
def keeper(store):
    stand_in = KeeperStandIn(store)
    yield stand_in
    stand_in.close()


def validated(spec, spec_options, **arguments):
    """The task's params as AnsibleModule (or the action plugin) hands them over: defaults filled in."""
    result = ArgumentSpecValidator(spec, **spec_options).validate(arguments)
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


def record(gateway, store, check_mode=False, diff=True, **arguments):
    arguments.setdefault("timeout", 2)
    params = validated(
        record_spec(), ONE_AGENT_OR_MANY, gateway_url=gateway.url, session_dir=store.directory, **arguments
    )
    return RecordTask(params, check_mode, diff).run()


def session(gateway, store, check_mode=False, diff=True, **arguments):
    arguments.setdefault("timeout", 2)
    params = validated(
        session_spec(), SESSION_AGENTS, gateway_url=gateway.url, session_dir=store.directory, **arguments
    )
    return SessionTask(params, check_mode, diff).run()


def events_of(gateway, store, **arguments):
    params = validated(
        event_info_spec(),
        ONE_AGENT_OR_MANY,
        gateway_url=gateway.url,
        session_dir=store.directory,
        **arguments,
    )
    return event_info(params)


def signed_in_agent(gateway, store, agent_id=186, guid="stored-guid"):
    """An agent this collection signed in (its session in the store), the requests of that forgotten."""
    gateway.script(agent_id, signed_in(guid))
    result = session(gateway, store, agent_id=agent_id, password=PASSWORD, phone_number=PHONE)
    assert result["changed"] is True and not result.get("failed"), result
    gateway.take()


def kept_agent(gateway, store, keeper, agent_id=186, guid="kept-guid", **report):
    """An agent signed in with keepalive, handed to the (stand-in) keeper, which reports it alive."""
    gateway.script(agent_id, signed_in(guid))
    result = session(gateway, store, agent_id=agent_id, password=PASSWORD, phone_number=PHONE, keepalive=True)
    assert result["changed"] is True and result["session"]["kept"] is True, result
    keeper.report(gateway.url, agent_id, report.pop("keeper_guid", guid), **report)
    gateway.take()


def stored_guid(gateway, store, agent_id=186):
    return (store.load(gateway.url, agent_id) or {}).get("guid")


# -- starting a recording


def test_a_start_signs_in_starts_once_and_a_second_run_starts_nothing(gateway, store):
    gateway.script(186, signed_in("g-1"), started("5086"), IDLE)
    first = record(gateway, store, agent_id=186, password=PASSWORD, phone_number=PHONE)
    sent_first = gateway.bodies("/186")
    assert gateway.take() == [("PUT", "onlineagent/186", None), ("PUT", "recordplay/186/record", "g-1")]
    assert sent_first[0]["password"] == PASSWORD and sent_first[0]["phonenum"] == PHONE
    assert sent_first[1] == RECORD_BODY
    assert first["changed"] is True and first["task_id"] == "5086", first
    assert first["ansible_facts"] == {
        "cc_gateway_record": {"agent_id": 186, "task_id": "5086", "state": "started"}
    }
    assert first["diff"] == {
        "before": {"state": "stopped", "task_id": None},
        "after": {"state": "started", "task_id": "5086"},
    }

    second = record(gateway, store, agent_id=186, password=PASSWORD, phone_number=PHONE)
    # Only the read-only question whether the stored session still lives.
    assert gateway.take() == [("GET", "onlineagent/186/agentstatus", "g-1")]
    assert second["changed"] is False and second["task_id"] == "5086", second
    assert second["diff"]["before"] == second["diff"]["after"] == {"state": "started", "task_id": "5086"}


def test_a_start_refused_500_011_starts_nothing_and_reports_unchanged(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, IDLE, refused("500-011"))
    result = record(gateway, store, agent_id=186, password=PASSWORD, phone_number=PHONE)
    assert gateway.take() == [
        ("GET", "onlineagent/186/agentstatus", "stored-guid"),
        ("PUT", "recordplay/186/record", "stored-guid"),
    ]
    assert not result.get("failed"), result
    assert result["changed"] is False and result["retcode"] == "500-011"
    assert result["task_id"] is None
    assert "no second recording was started" in result["message"]


def test_a_start_refused_000_003_on_a_live_session_is_not_signed_in_again(gateway, store):
    """000-003 also means "self-recording is off": a session the gateway still knows is not replaced."""
    signed_in_agent(gateway, store)
    gateway.script(186, IDLE, refused("000-003"), IDLE)
    result = record(gateway, store, agent_id=186, password=PASSWORD, phone_number=PHONE)
    assert gateway.take() == [
        ("GET", "onlineagent/186/agentstatus", "stored-guid"),
        ("PUT", "recordplay/186/record", "stored-guid"),
        ("GET", "onlineagent/186/agentstatus", "stored-guid"),
    ]
    assert result["failed"] is True and result["changed"] is False
    assert "000-003" in result["msg"] and "IF_ENABLE_AGENT_SELFRECORD" in result["msg"]
    assert stored_guid(gateway, store) == "stored-guid"


def test_a_start_refused_for_a_lost_session_signs_in_again_once_and_starts_on_the_new_session(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, IDLE, refused("100-006"), refused("100-006"), signed_in("g-new"), started("77"))
    result = record(gateway, store, agent_id=186, password=PASSWORD, phone_number=PHONE)
    assert gateway.take() == [
        ("GET", "onlineagent/186/agentstatus", "stored-guid"),
        ("PUT", "recordplay/186/record", "stored-guid"),
        ("GET", "onlineagent/186/agentstatus", "stored-guid"),
        ("PUT", "onlineagent/186", None),
        ("PUT", "recordplay/186/record", "g-new"),
    ]
    assert result["changed"] is True and result["task_id"] == "77", result
    assert result["signed_in_again"] is True
    assert result["message"].endswith("it was signed in again.")
    assert stored_guid(gateway, store) == "g-new"


def test_a_start_refused_again_on_the_new_session_is_not_signed_in_a_third_time(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, IDLE, refused("100-006"), refused("100-006"), signed_in("g-new"), refused("100-006"))
    result = record(gateway, store, agent_id=186, password=PASSWORD, phone_number=PHONE)
    sent = gateway.take()
    assert result["failed"] is True and "100-006" in result["msg"], result
    assert [path for _method, path, _guid in sent].count("onlineagent/186") == 1
    assert [(method, guid) for method, path, guid in sent if path.endswith("/record")] == [
        ("PUT", "stored-guid"),
        ("PUT", "g-new"),
    ]
    assert gateway.unanswered() == {}


def test_a_stored_session_the_gateway_forgot_is_dropped_and_without_credentials_nothing_starts(
    gateway, store
):
    signed_in_agent(gateway, store)
    gateway.script(186, refused("100-006"))
    result = record(gateway, store, agent_id=186)
    assert gateway.take() == [("GET", "onlineagent/186/agentstatus", "stored-guid")]
    assert result["failed"] is True
    assert "has no session to use" in result["msg"] and "password and phone_number" in result["msg"]
    assert store.load(gateway.url, 186) is None


def test_check_mode_start_sends_nothing_without_a_session_and_stores_nothing(gateway, store):
    result = record(gateway, store, check_mode=True, agent_id=186, password=PASSWORD, phone_number=PHONE)
    assert gateway.take() == []
    assert result["changed"] is True and "would sign in and start" in result["message"], result
    assert result["diff"]["after"] == {"state": "started", "task_id": None}
    assert store.load(gateway.url, 186) is None


def test_check_mode_start_with_a_session_only_asks_whether_it_lives(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, IDLE)
    result = record(gateway, store, check_mode=True, agent_id=186)
    assert gateway.take() == [("GET", "onlineagent/186/agentstatus", "stored-guid")]
    assert result["changed"] is True and "would use the session" in result["message"], result
    # Nothing was started, so a real run afterwards still starts.
    gateway.script(186, IDLE, started("5086"))
    assert record(gateway, store, agent_id=186)["changed"] is True
    assert gateway.take()[-1] == ("PUT", "recordplay/186/record", "stored-guid")


def test_waiting_takes_only_the_started_tasks_event_and_a_failure_forgets_the_recording(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(
        186,
        IDLE,
        started("5086"),
        event("AgentMediaEvent_Record", taskId=999, fileName="Y:/other.V3"),
        event("AgentMediaEvent_Record_Fail", taskId=5086, fileName="Y:/mine.V3"),
    )
    result = record(gateway, store, agent_id=186, wait=True, wait_timeout=5)
    assert gateway.take() == [
        ("GET", "onlineagent/186/agentstatus", "stored-guid"),
        ("PUT", "recordplay/186/record", "stored-guid"),
        ("GET", "agentevent/186", "stored-guid"),
        ("GET", "agentevent/186", "stored-guid"),
    ]
    assert result["failed"] is True and "AgentMediaEvent_Record_Fail" in result["msg"], result
    assert "5086" in result["msg"] and "nothing is recording" in result["msg"]
    # The failed task is not remembered: the next run starts again.
    gateway.script(186, IDLE, started("5087"))
    again = record(gateway, store, agent_id=186)
    assert gateway.take()[-1] == ("PUT", "recordplay/186/record", "stored-guid")
    assert again["changed"] is True and again["task_id"] == "5087"


def test_waiting_confirms_the_start_with_its_event_and_takes_the_file_name(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(
        186, IDLE, started("5086"), event("AgentMediaEvent_Record", taskId=5086, fileName="Y:/6/186/a.V3")
    )
    result = record(gateway, store, agent_id=186, wait=True, wait_timeout=5)
    assert [path for _method, path, _guid in gateway.take()][-1] == "agentevent/186"
    assert result["changed"] is True and result["file_name"] == "Y:/6/186/a.V3", result


def test_waiting_reports_what_the_start_event_says_of_the_recording(gateway, store):
    signed_in_agent(gateway, store)
    facts = {"fileName": "Y:/6/186/a.V3", "locationId": "256", "recordID": "Yc1v1a186d2026", "callId": "17-1"}
    gateway.script(186, IDLE, started("5086"), event("AgentMediaEvent_Record", taskId=5086, **facts))
    result = record(gateway, store, agent_id=186, wait=True, wait_timeout=5)
    assert (result["file_name"], result["location_id"], result["record_id"], result["call_id"]) == (
        "Y:/6/186/a.V3",
        "256",
        "Yc1v1a186d2026",
        "17-1",
    ), result
    # Remembered with the session: a re-run reports the same recording and sends nothing but the status query.
    gateway.script(186, IDLE)
    again = record(gateway, store, agent_id=186)
    assert again["changed"] is False and again["location_id"] == "256", again


def test_a_stop_with_wait_reports_the_recordings_begin_end_and_duration(gateway, store):
    signed_in_agent(gateway, store)
    facts = {"fileName": "Y:/a.V3", "locationId": "256"}
    gateway.script(186, IDLE, started("5086"), event("AgentMediaEvent_Record", taskId=5086, **facts))
    record(gateway, store, agent_id=186, wait=True, wait_timeout=5)
    gateway.take()
    gateway.script(
        186,
        ok(),
        event("AgentMediaEvent_StopRecordDone", taskId=999, beginTime=1, endTime=2),
        event("AgentMediaEvent_StopRecordDone", taskId=5086, beginTime=1764041000000, endTime=1764041012500),
    )
    stopped = record(gateway, store, agent_id=186, state="stopped", wait=True, wait_timeout=5)
    assert stopped["changed"] is True, stopped
    assert (stopped["begin_time"], stopped["end_time"], stopped["duration"]) == (
        1764041000000,
        1764041012500,
        12.5,
    )
    # What to fetch: the stopped recording's file and location.
    assert (stopped["file_name"], stopped["location_id"]) == ("Y:/a.V3", "256")


def test_a_stop_with_wait_whose_event_never_comes_fails_and_a_rerun_stops_nothing(gateway, store):
    gateway.script(186, signed_in("g-1"), started("5086"), ok(), Answer(EMPTY_POLL.body, repeat=True))
    record(gateway, store, agent_id=186, password=PASSWORD, phone_number=PHONE)
    gateway.take()
    stopped = record(gateway, store, agent_id=186, state="stopped", wait=True, wait_timeout=1)
    assert stopped["failed"] is True and "AgentMediaEvent_StopRecordDone" in stopped["msg"], stopped
    assert gateway.take()[0] == ("DELETE", "recordplay/186/stoprecord", "g-1")
    # The stop was done and is remembered: nothing is left to stop.
    again = record(gateway, store, check_mode=True, agent_id=186, state="stopped")
    assert again["changed"] is False and "nothing would be sent" in again["message"], again


def test_a_kept_agent_reports_what_its_keeper_saw_of_the_recording(gateway, store, keeper):
    recording = {
        "task_id": "5206",
        "file_name": "Y:/a.V3",
        "location_id": "256",
        "record_id": "r",
        "since": 1,
    }
    kept_agent(gateway, store, keeper, recording=recording)
    result = record(gateway, store, agent_id=186)
    assert gateway.take() == []
    assert (result["file_name"], result["location_id"], result["record_id"]) == ("Y:/a.V3", "256", "r"), (
        result
    )


def test_waiting_paces_the_polls_of_a_gateway_that_answers_empty_polls_at_once(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, IDLE, started("5086"), Answer(EMPTY_POLL.body, repeat=True))
    result = record(gateway, store, agent_id=186, wait=True, wait_timeout=1)
    polls = [path for _method, path, _guid in gateway.take() if path == "agentevent/186"]
    assert result["failed"] is True and "within wait_timeout=1 s" in result["msg"], result
    assert 1 <= len(polls) <= 4, f"{len(polls)} polls in 1 s"


# -- stopping and pausing


def test_a_stop_stops_the_remembered_task_and_a_second_stop_is_told_nothing_records(gateway, store):
    gateway.script(186, signed_in("g-1"), started("5086"), ok(), refused("100-007"))
    record(gateway, store, agent_id=186, password=PASSWORD, phone_number=PHONE)
    gateway.take()
    first = record(gateway, store, agent_id=186, state="stopped")
    assert gateway.take() == [("DELETE", "recordplay/186/stoprecord", "g-1")]
    assert first["changed"] is True and first["task_id"] == "5086", first
    assert first["message"] == "Recording stopped (task 5086)."
    assert first["diff"] == {
        "before": {"state": "started", "task_id": "5086"},
        "after": {"state": "stopped", "task_id": None},
    }
    second = record(gateway, store, agent_id=186, state="stopped")
    assert gateway.take() == [("DELETE", "recordplay/186/stoprecord", "g-1")]
    assert not second.get("failed") and second["changed"] is False, second
    assert second["retcode"] == "100-007"


def test_a_stop_answered_not_signed_in_forgets_the_session_and_reports_unchanged(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, refused("100-006"))
    result = record(gateway, store, agent_id=186, state="stopped")
    assert gateway.take() == [("DELETE", "recordplay/186/stoprecord", "stored-guid")]
    assert not result.get("failed") and result["changed"] is False, result
    assert "a recording ends with its session" in result["message"]
    assert store.load(gateway.url, 186) is None


def test_a_stop_without_any_known_session_sends_nothing_and_says_to_pass_guid(gateway, store):
    result = record(gateway, store, agent_id=186, state="stopped")
    assert gateway.take() == []
    assert result["changed"] is False and not result.get("failed"), result
    assert any("Pass guid" in warning for warning in result["warnings"])


def test_check_mode_stop_sends_nothing_and_is_a_change_only_when_a_recording_is_known(gateway, store):
    signed_in_agent(gateway, store)
    nothing_known = record(gateway, store, check_mode=True, agent_id=186, state="stopped")
    assert gateway.take() == []
    gateway.script(186, IDLE, started("5086"))
    record(gateway, store, agent_id=186)
    gateway.take()
    known = record(gateway, store, check_mode=True, agent_id=186, state="stopped")
    assert gateway.take() == []
    assert nothing_known["changed"] is False, nothing_known
    assert known["changed"] is True and known["task_id"] == "5086", known


def test_pause_pauses_once_and_started_resumes_the_same_task(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, IDLE, started("5086"), IDLE, ok(), IDLE, IDLE, ok())
    record(gateway, store, agent_id=186)
    gateway.take()
    paused = record(gateway, store, agent_id=186, state="paused")
    assert gateway.take()[-1] == ("POST", "recordplay/186/pauserecord", "stored-guid")
    assert paused["changed"] is True and paused["task_id"] == "5086", paused
    again = record(gateway, store, agent_id=186, state="paused")
    assert gateway.take() == [("GET", "onlineagent/186/agentstatus", "stored-guid")]
    assert again["changed"] is False, again
    resumed = record(gateway, store, agent_id=186)
    assert gateway.take()[-1] == ("POST", "recordplay/186/resumerecord", "stored-guid")
    assert resumed["changed"] is True and resumed["task_id"] == "5086", resumed
    assert resumed["message"] == "Recording resumed (task 5086)."


def test_pausing_an_agent_without_a_known_session_fails_and_sends_nothing(gateway, store):
    result = record(gateway, store, agent_id=186, state="paused")
    assert gateway.take() == []
    assert result["failed"] is True and "no recording to pause" in result["msg"], result


# -- kept agents: the keeper's report against the store


def test_a_kept_agent_uses_the_keepers_newer_guid_and_asks_nothing_before_starting(gateway, store, keeper):
    kept_agent(gateway, store, keeper, guid="signed-in-guid", keeper_guid="rotated-guid")
    gateway.script(186, started("5086"))
    result = record(gateway, store, agent_id=186)
    assert gateway.take() == [("PUT", "recordplay/186/record", "rotated-guid")]
    assert result["changed"] is True and result["task_id"] == "5086", result
    assert stored_guid(gateway, store) == "rotated-guid"


def test_a_kept_agent_whose_keeper_saw_the_recording_is_not_started_again(gateway, store, keeper):
    recording = {"task_id": "5206", "file_name": "Y:/a.V3", "since": 1}
    kept_agent(gateway, store, keeper, recording=recording)
    result = record(gateway, store, agent_id=186)
    assert gateway.take() == []
    assert result["changed"] is False and result["task_id"] == "5206", result
    assert "nothing was sent" in result["message"]


def test_a_report_of_an_older_keep_request_is_not_taken_for_the_session(gateway, store, keeper):
    kept_agent(gateway, store, keeper, guid="signed-in-guid")
    generation = KeeperMailbox(store).keep_generation(gateway.url, 186)
    keeper.report(
        gateway.url,
        186,
        "old-session-guid",
        recording={"task_id": "1", "file_name": None},
        generation=generation - 1,
    )
    gateway.script(186, IDLE, started("5086"))
    result = record(gateway, store, agent_id=186)
    # The stored session, whose life the keeper does not vouch for yet: asked, then used.
    assert gateway.take() == [
        ("GET", "onlineagent/186/agentstatus", "signed-in-guid"),
        ("PUT", "recordplay/186/record", "signed-in-guid"),
    ]
    assert result["changed"] is True and result["task_id"] == "5086", result


def test_a_stale_guid_refusal_is_sent_once_more_with_the_keepers_newer_guid(gateway, store, keeper):
    kept_agent(gateway, store, keeper, guid="g-1")
    # While the start is refused, the keeper's poll brings the gateway's newer GUID.
    learns = refused("000-003")
    learns.before = lambda: keeper.report(gateway.url, 186, "g-2")
    gateway.script(186, learns, started("5086"))
    result = record(gateway, store, agent_id=186)
    assert gateway.take() == [
        ("PUT", "recordplay/186/record", "g-1"),
        ("PUT", "recordplay/186/record", "g-2"),
    ]
    assert result["changed"] is True and result["task_id"] == "5086", result
    assert not result.get("signed_in_again")
    assert stored_guid(gateway, store) == "g-2"


def test_a_stale_guid_refusal_is_retried_with_the_keepers_guid_never_twice(gateway, store, keeper):
    kept_agent(gateway, store, keeper, guid="g-1")
    learns = refused("000-003")
    learns.before = lambda: keeper.report(gateway.url, 186, "g-2")
    again = refused("000-003")
    again.before = lambda: keeper.report(gateway.url, 186, "g-3")
    gateway.script(186, learns, again)
    result = record(gateway, store, agent_id=186)
    assert gateway.take() == [
        ("PUT", "recordplay/186/record", "g-1"),
        ("PUT", "recordplay/186/record", "g-2"),
    ]
    assert result["failed"] is True and "000-003" in result["msg"], result


def test_a_stale_guid_refusal_is_never_retried_with_the_guid_of_an_earlier_keep_request(
    gateway, store, keeper
):
    kept_agent(gateway, store, keeper, guid="g-1")
    gateway.script(
        186,
        refused("100-006"),
        refused("100-006"),
        signed_in("g-2"),
        refused("000-003"),
        refused("000-003"),
    )
    result = record(gateway, store, agent_id=186, password=PASSWORD, phone_number=PHONE, timeout=1)
    starts = [guid for _method, path, guid in gateway.take() if path.endswith("/record")]
    assert result["failed"] is True, result
    assert starts == ["g-1", "g-2"]


def test_a_stop_refused_for_a_stale_guid_is_retried_with_the_keepers_newer_guid(gateway, store, keeper):
    kept_agent(gateway, store, keeper, guid="g-1")
    gateway.script(186, started("5086"))
    record(gateway, store, agent_id=186)
    learns = refused("000-003")
    learns.before = lambda: keeper.report(gateway.url, 186, "g-2")
    gateway.script(186, learns, ok())
    gateway.take()
    result = record(gateway, store, agent_id=186, state="stopped")
    assert gateway.take() == [
        ("DELETE", "recordplay/186/stoprecord", "g-1"),
        ("DELETE", "recordplay/186/stoprecord", "g-2"),
    ]
    assert result["changed"] is True and result["task_id"] == "5086", result


def test_a_stop_of_a_kept_agent_whose_keeper_saw_the_task_end_sends_nothing(gateway, store, keeper):
    kept_agent(gateway, store, keeper)
    gateway.script(186, started("5086"))
    record(gateway, store, agent_id=186)
    keeper.report(gateway.url, 186, "kept-guid", ended_tasks=["5086"])
    gateway.take()
    stopped = record(gateway, store, agent_id=186, state="stopped")
    assert gateway.take() == []
    assert stopped["changed"] is False and "events show no recording" in stopped["message"], stopped
    gateway.script(186, started("5087"))
    restarted = record(gateway, store, agent_id=186)
    assert gateway.take() == [("PUT", "recordplay/186/record", "kept-guid")]
    assert restarted["changed"] is True and restarted["task_id"] == "5087"


def test_a_keeper_report_lagging_behind_this_collections_stop_does_not_bring_the_recording_back(
    gateway, store, keeper
):
    kept_agent(gateway, store, keeper)
    gateway.script(186, started("5086"), ok(), started("5087"))
    record(gateway, store, agent_id=186)
    keeper.report(gateway.url, 186, "kept-guid", recording={"task_id": "5086", "file_name": None})
    assert record(gateway, store, agent_id=186, state="stopped")["changed"] is True
    # The keeper has not seen AgentMediaEvent_StopRecordDone yet: its report still shows task 5086.
    result = record(gateway, store, agent_id=186)
    assert gateway.take() == [
        ("PUT", "recordplay/186/record", "kept-guid"),
        ("DELETE", "recordplay/186/stoprecord", "kept-guid"),
        ("PUT", "recordplay/186/record", "kept-guid"),
    ]
    assert result["changed"] is True and result["task_id"] == "5087", result


def test_a_kept_agent_whose_session_ended_is_signed_in_again_and_kept_again(gateway, store, keeper):
    kept_agent(gateway, store, keeper, guid="g-1")
    keeper.report(gateway.url, 186, "g-1", alive=False, reason="AgentOther_ShutdownService: signed out")
    generation = KeeperMailbox(store).keep_generation(gateway.url, 186)
    gateway.script(186, signed_in("g-2"), started("5086"))
    result = record(gateway, store, agent_id=186, password=PASSWORD, phone_number=PHONE)
    assert gateway.take() == [("PUT", "onlineagent/186", None), ("PUT", "recordplay/186/record", "g-2")]
    assert result["changed"] is True and result["signed_in_again"] is True, result
    assert "AgentOther_ShutdownService" in result["message"] and "is kept again" in result["message"]
    assert (
        KeeperMailbox(store).keep_generation(gateway.url, 186) != generation
    )  # a new keep request for the new session


def test_a_stop_of_a_kept_agent_whose_session_ended_sends_nothing(gateway, store, keeper):
    kept_agent(gateway, store, keeper)
    keeper.report(gateway.url, 186, "kept-guid", alive=False, reason="lease over")
    result = record(gateway, store, agent_id=186, state="stopped")
    assert gateway.take() == []
    assert result["changed"] is False and not result.get("failed"), result
    assert result["message"] == "The session ended (lease over); nothing records."


def test_a_kept_agent_whose_keeper_is_gone_gets_no_request(gateway, store, keeper):
    kept_agent(gateway, store, keeper)
    keeper.exit()
    result = record(gateway, store, agent_id=186, password=PASSWORD, phone_number=PHONE)
    assert gateway.take() == []
    assert result["failed"] is True and "cannot be counted on" in result["msg"], result


# -- sessions


def test_sign_in_once_then_a_stored_session_is_only_checked(gateway, store):
    gateway.script(186, signed_in("g-1"), IDLE)
    first = session(gateway, store, agent_id=186, password=PASSWORD, phone_number=PHONE)
    second = session(gateway, store, agent_id=186, password=PASSWORD, phone_number=PHONE)
    assert gateway.take() == [
        ("PUT", "onlineagent/186", None),
        ("GET", "onlineagent/186/agentstatus", "g-1"),
    ]
    assert first["changed"] is True and first["session"]["signed_in"] is True, first
    assert second["changed"] is False and second["message"] == "Agent 186 was signed in already."
    assert first["diff"] == {"before": {"signed_in": False}, "after": {"signed_in": True}}


def test_an_agent_signed_in_elsewhere_is_taken_over_only_with_force_login(gateway, store):
    gateway.script(186, refused("100-002"), refused("100-002"), signed_in("g-forced"))
    refused_result = session(gateway, store, agent_id=186, password=PASSWORD, phone_number=PHONE)
    assert gateway.take() == [("PUT", "onlineagent/186", None)]
    assert refused_result["failed"] is True and "force_login: true" in refused_result["msg"]
    assert store.load(gateway.url, 186) is None
    forced = session(gateway, store, agent_id=186, password=PASSWORD, phone_number=PHONE, force_login=True)
    assert gateway.take() == [("PUT", "onlineagent/186", None), ("PUT", "onlineagent/186/forcelogin", None)]
    assert forced["changed"] is True and stored_guid(gateway, store) == "g-forced"


def test_a_kept_agent_present_again_sends_nothing(gateway, store, keeper):
    kept_agent(gateway, store, keeper)
    result = session(gateway, store, agent_id=186, keepalive=True)
    assert gateway.take() == []
    assert result["changed"] is False and result["session"]["keeper_pid"] == keeper.pid, result


def test_sign_out_uses_the_stored_guid_and_a_second_sign_out_sends_nothing(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, ok())
    first = session(gateway, store, agent_id=186, state="absent")
    second = session(gateway, store, agent_id=186, state="absent")
    assert gateway.take() == [("DELETE", "onlineagent/186/logout", "stored-guid")]
    assert first["changed"] is True and first["message"] == "Agent 186 signed out.", first
    assert second["changed"] is False and second["message"] == "Agent 186 was not signed in.", second
    assert store.load(gateway.url, 186) is None


@pytest.mark.parametrize("retcode", ["100-006", "100-008"])
def test_a_sign_out_answered_already_signed_out_is_unchanged_and_forgets_the_session(gateway, store, retcode):
    signed_in_agent(gateway, store)
    gateway.script(186, refused(retcode))
    result = session(gateway, store, agent_id=186, state="absent")
    assert gateway.take() == [("DELETE", "onlineagent/186/logout", "stored-guid")]
    assert result["changed"] is False and not result.get("failed"), result
    assert store.load(gateway.url, 186) is None


def test_check_mode_sign_out_sends_nothing_and_keeps_the_session(gateway, store):
    signed_in_agent(gateway, store)
    result = session(gateway, store, check_mode=True, agent_id=186, state="absent")
    assert gateway.take() == []
    assert result["changed"] is True and result["diff"]["after"] == {"signed_in": False}, result
    assert stored_guid(gateway, store) == "stored-guid"


def test_a_sign_out_signs_in_forcibly_at_most_once(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, refused("000-003"), signed_in("g-forced"), refused("000-003"))
    result = session(gateway, store, agent_id=186, state="absent", password=PASSWORD, phone_number=PHONE)
    assert gateway.take() == [
        ("DELETE", "onlineagent/186/logout", "stored-guid"),
        ("PUT", "onlineagent/186/forcelogin", None),
        ("DELETE", "onlineagent/186/logout", "g-forced"),
    ]
    assert result["failed"] is True and "may still be signed in" in result["msg"], result


def test_a_sign_out_refused_for_another_reason_is_not_retried(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, refused("100-010"))
    result = session(gateway, store, agent_id=186, state="absent", password=PASSWORD, phone_number=PHONE)
    assert gateway.take() == [("DELETE", "onlineagent/186/logout", "stored-guid")]
    assert result["failed"] is True and "100-010" in result["msg"], result
    assert stored_guid(gateway, store) == "stored-guid"


def test_signing_out_the_last_kept_agent_uses_the_keepers_guid_and_lets_the_keeper_go(gateway, store, keeper):
    kept_agent(gateway, store, keeper, guid="signed-in-guid", keeper_guid="rotated-guid")
    gateway.script(186, ok())
    result = session(gateway, store, agent_id=186, state="absent")
    assert gateway.take() == [("DELETE", "onlineagent/186/logout", "rotated-guid")]
    assert result["changed"] is True and result["session"]["kept"] is False, result
    assert (
        not KeeperMailbox(store).keep_requested(gateway.url, 186)
        and kept_report(store, gateway.url, 186) is None
    )
    assert keeper.stop_requests == 1 and keeper.lock is None
    assert "warnings" not in result or not any("did not stop" in w for w in result["warnings"])


def test_a_sign_out_batch_of_every_kept_agent_asks_the_keeper_to_stop_once_after_the_last(
    gateway, store, keeper
):
    for agent in (186, 187, 188):
        kept_agent(gateway, store, keeper, agent_id=agent, guid=f"g-{agent}")
        gateway.script(agent, ok())
    result = session(
        gateway, store, agents=[{"agent_id": agent} for agent in (186, 187, 188)], state="absent"
    )
    assert result["changed"] is True and not result.get("failed"), result
    assert KeeperMailbox(store).kept_agents() == 0
    assert keeper.stop_requests == 1 and keeper.lock is None


def test_a_sign_out_batch_that_leaves_a_kept_agent_does_not_ask_the_keeper_to_stop(gateway, store, keeper):
    for agent in (186, 187):
        kept_agent(gateway, store, keeper, agent_id=agent, guid=f"g-{agent}")
    gateway.script(186, ok())
    result = session(gateway, store, agents=[{"agent_id": 186}], state="absent")
    assert result["changed"] is True and not result.get("failed"), result
    assert KeeperMailbox(store).kept_agents() == 1
    assert keeper.stop_requests == 0 and keeper.lock is not None


def test_sign_in_with_keepalive_hands_the_session_to_the_running_keeper_with_its_lease(
    gateway, store, keeper
):
    gateway.script(186, signed_in("g-1"))
    result = session(
        gateway,
        store,
        agent_id=186,
        password=PASSWORD,
        phone_number=PHONE,
        keepalive=True,
        keepalive_lease=600,
    )
    assert gateway.take() == [("PUT", "onlineagent/186", None)]
    assert result["changed"] is True and result["session"]["kept"] is True, result
    assert result["session"]["keeper_pid"] == keeper.pid
    assert KeeperMailbox(store).keep_request(gateway.url, 186).lease == 600
    assert stored_guid(gateway, store) == "g-1"


# -- batches


@pytest.mark.parametrize("transport", ["requests", "aiohttp"])
def test_a_batch_with_one_failing_agent_says_n_of_m_failed_and_keeps_facts_for_the_others(
    gateway, store, transport, monkeypatch
):
    exchanges = []
    if transport == "aiohttp":  # as a batch of AIOHTTP_FROM_AGENTS agents or more runs
        pytest.importorskip("aiohttp")
        from ansible_collections.cec.cc_gateway.plugins.module_utils import _batch
        from ansible_collections.cec.cc_gateway.plugins.module_utils._api.http_bridge import LoopTransport

        monkeypatch.setattr(_batch, "AIOHTTP_FROM_AGENTS", 3)
        through_loop = LoopTransport.request
        monkeypatch.setattr(
            LoopTransport,
            "request",
            lambda self, *args, **kwargs: exchanges.append(args[:2]) or through_loop(self, *args, **kwargs),
        )
    gateway.script(186, signed_in("g-186"), started("1"))
    gateway.script(187, refused("100-004"))
    gateway.script(188, signed_in("g-188"), started("3"))
    agents = [{"agent_id": agent, "phone_number": f"70{agent}"} for agent in (186, 187, 188)]
    result = record(gateway, store, agents=agents, password=PASSWORD)
    assert gateway.take(187) == [("PUT", "onlineagent/187", None)]
    assert gateway.unanswered() == {}
    assert result["failed"] is True and result["changed"] is True, result
    assert result["msg"].startswith("1 of 3 agents failed: agent 187: 100-004: wrong agent password")
    assert result["ansible_facts"] == {
        "cc_gateway_records": [
            {"agent_id": 186, "task_id": "1", "state": "started"},
            {"agent_id": 188, "task_id": "3", "state": "started"},
        ]
    }
    assert result["diff"] == {
        "before": {
            "186": {"state": "stopped", "task_id": None},
            "188": {"state": "stopped", "task_id": None},
        },
        "after": {"186": {"state": "started", "task_id": "1"}, "188": {"state": "started", "task_id": "3"}},
    }
    assert [(item["agent_id"], item["failed"], item["changed"]) for item in result["results"]] == [
        (186, False, True),
        (187, True, False),
        (188, False, True),
    ]
    assert len(exchanges) == (5 if transport == "aiohttp" else 0)
    assert not [thread for thread in threading.enumerate() if thread.name == "cc_gateway-http"]


def test_a_batch_whose_agents_are_all_in_state_is_unchanged(gateway, store):
    for agent in (186, 187):
        gateway.script(agent, signed_in(f"g-{agent}"), started(str(agent)), IDLE)
    agents = [{"agent_id": agent, "phone_number": f"70{agent}"} for agent in (186, 187)]
    record(gateway, store, agents=agents, password=PASSWORD)
    gateway.take()
    result = record(gateway, store, agents=agents, password=PASSWORD)
    assert sorted(gateway.take()) == [
        ("GET", "onlineagent/186/agentstatus", "g-186"),
        ("GET", "onlineagent/187/agentstatus", "g-187"),
    ]
    assert result["changed"] is False and not result.get("failed"), result
    assert result["msg"] == "2 agents: 0 changed"
    assert [fact["task_id"] for fact in result["ansible_facts"]["cc_gateway_records"]] == ["186", "187"]


def test_a_batch_in_check_mode_sends_nothing_for_any_agent(gateway, store):
    agents = [{"agent_id": agent, "phone_number": f"70{agent}"} for agent in (186, 187, 188)]
    result = record(gateway, store, check_mode=True, agents=agents, password=PASSWORD)
    assert gateway.take() == []
    assert result["changed"] is True and result["msg"] == "3 agents: 3 changed", result
    assert all(store.load(gateway.url, agent) is None for agent in (186, 187, 188))


def test_a_sign_out_batch_reports_the_failing_agent_and_signs_the_others_out(gateway, store):
    for agent in (186, 187):
        signed_in_agent(gateway, store, agent, guid=f"g-{agent}")
    gateway.script(186, ok())
    gateway.script(187, refused("100-010"))
    result = session(gateway, store, agents=[{"agent_id": 186}, {"agent_id": 187}], state="absent")
    assert sorted(gateway.take()) == [
        ("DELETE", "onlineagent/186/logout", "g-186"),
        ("DELETE", "onlineagent/187/logout", "g-187"),
    ]
    assert result["failed"] is True and result["msg"].startswith("1 of 2 agents failed: agent 187: 100-010")
    assert result["ansible_facts"] == {"cc_gateway_sessions": [{"agent_id": 186, "state": "absent"}]}
    assert result["diff"] == {"before": {"186": {"signed_in": True}}, "after": {"186": {"signed_in": False}}}
    assert store.load(gateway.url, 186) is None and stored_guid(gateway, store, 187) == "g-187"


# -- event_info


def test_event_info_gives_the_keepers_events_since_and_of_the_wanted_types_and_sends_nothing(
    gateway, store, keeper
):
    events = [
        kept_event("AgentMediaEvent_Record", received_at=1000, taskId=1),
        kept_event("AgentOther_PhoneAlerting", received_at=2000),
        kept_event("AgentMediaEvent_Record", received_at=3000, taskId=2),
    ]
    kept_agent(gateway, store, keeper, events=events, recording={"task_id": "2", "file_name": None})
    result = events_of(gateway, store, agent_id=186, since=1500, event_type=["AgentMediaEvent_Record"])
    assert gateway.take() == []
    assert result["failed"] is False and result["session_alive"] is True, result
    assert [item["content"]["taskId"] for item in result["events"]] == [2]
    assert result["recording"]["task_id"] == "2"


def test_event_info_waits_for_an_event_per_agent_and_fails_only_the_agent_it_never_came_for(
    gateway, store, keeper
):
    kept_agent(gateway, store, keeper, 186)
    kept_agent(gateway, store, keeper, 187)
    arrives = threading.Timer(
        0.2,
        keeper.report,
        args=(gateway.url, 186, "kept-guid"),
        kwargs={"events": [kept_event("AgentMediaEvent_Record", taskId=7)]},
    )
    arrives.start()
    try:
        started_at = time.monotonic()
        result = events_of(
            gateway,
            store,
            agents=[{"agent_id": 186}, {"agent_id": 187}, {"agent_id": 188}],
            wait_for="AgentMediaEvent_Record",
            wait_timeout=1,
        )
        elapsed = time.monotonic() - started_at
    finally:
        arrives.join(5)
    assert gateway.take() == []
    assert 1 <= elapsed < 5
    assert result["failed"] is True and result["msg"].startswith("2 of 3 agents failed: agent 187: No "), (
        result
    )
    assert "agent 188: Agent 188 is not kept" in result["msg"]
    first = result["results"][0]
    assert first["failed"] is False and [item["content"]["taskId"] for item in first["events"]] == [7]


def test_event_info_of_a_kept_agent_whose_keeper_is_gone_refuses_to_answer(gateway, store, keeper):
    kept_agent(gateway, store, keeper)
    keeper.exit()
    with pytest.raises(Exception, match="cannot be counted on"):
        events_of(gateway, store, agent_id=186)
    assert gateway.take() == []


# -- fan_out: how a batch spreads its agents over threads


def test_fan_out_gives_every_outcome_in_the_items_order_on_at_most_the_given_threads():
    running: set[str] = set()
    most = []
    lock = threading.Lock()

    def work(item: int) -> int:
        with lock:
            running.add(threading.current_thread().name)
            most.append(len(running))
        time.sleep(0.001 * (item % 3))
        return item * item

    items = list(range(40))
    assert fan_out(work, items, 4) == [item * item for item in items]
    assert len(running) == 4 and max(most) <= 4
    assert fan_out(work, [7], 50) == [49]
    assert fan_out(work, [], 8) == []


def test_fan_out_raises_a_failure_after_every_thread_ended_and_starts_no_new_item():
    started: list[int] = []
    alive = []

    def work(item: int) -> int:
        started.append(item)
        if item == 0:
            raise RuntimeError("agent 0 broke")
        time.sleep(0.01)
        return item

    before = threading.active_count()
    with pytest.raises(RuntimeError, match="agent 0 broke"):
        fan_out(work, list(range(100)), 3)
    alive.append(threading.active_count())
    assert alive == [before]
    assert len(started) < 100
