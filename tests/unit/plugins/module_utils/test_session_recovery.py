# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sessions that went stale under a task: a sign-out after the keeper crashed signs out for real; a kept
agent whose session ended before its start is signed in again once."""

from __future__ import annotations

import json

import pytest
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import client as client_module
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import http_sync as transport
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import route as routes
from ansible_collections.cec.cc_gateway.plugins.module_utils._options import record_spec, session_spec
from ansible_collections.cec.cc_gateway.plugins.module_utils._record import RecordTask
from ansible_collections.cec.cc_gateway.plugins.module_utils._signin import SessionTask
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_protocol import KeeperMailbox
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.store import SessionStore, write_file
from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.keeper_files import request_keep
from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.servers import (
    Server,
    read_request,
    reply,
)

OK = {"message": "success", "retcode": "0", "result": {}}
STALE = {"message": "no right", "retcode": "000-003"}
NOT_SIGNED_IN = {"message": "not signed in", "retcode": "100-006"}


class Gateway(Server):
    """A gateway whose live GUIDs the test sets; answers sign-in, logout, status and start by path."""

    def __init__(self, live: set[str]) -> None:
        super().__init__()
        self.live = live
        self.signed_in = 0

    def serve(self, conn, reader):
        while (request := read_request(reader)) is not None:
            self.requests.append(request)
            line, headers = request[0], request[1]
            guid = headers.get("guid", "")
            if "/forcelogin " in line or line.startswith("PUT /agentgateway/resource/onlineagent/186 "):
                self.signed_in += 1
                new = f"fresh-{self.signed_in}"
                self.live.add(new)
                conn.sendall(reply(json.dumps(OK).encode(), headers=[f"Set-GUID: JSESSIONID={new}"]))
                continue
            if guid not in self.live:
                answer = STALE if self.live else NOT_SIGNED_IN
            elif "/record " in line:
                answer = {"message": "success", "retcode": "0", "result": {"taskId": "77"}}
            elif "/agentstatus " in line:
                answer = {"message": "", "retcode": "0", "result": {"agentState": 4}}
            else:
                answer = OK
                if "/logout " in line:
                    self.live.clear()
            conn.sendall(reply(json.dumps(answer).encode()))

    def lines(self, word):
        return [
            (request[0].split()[0], request[1].get("guid")) for request in self.requests if word in request[0]
        ]


@pytest.fixture(autouse=True)
def fresh_routes(monkeypatch):
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    client_module._route.cache_clear()
    transport._TRANSPORTS.clear()


def params(spec, url, store, **values):
    defaults = {name: option.get("default") for name, option in spec.items()}
    return dict(defaults, gateway_url=url, session_dir=store.directory, timeout=5, **values)


@pytest.fixture
def store(tmp_path):
    store = SessionStore(str(tmp_path / "sessions"))
    store.ensure_directory()
    return store


def crashed_keeper_left(store, url, stored_guid, newest_guid):
    """What a keeper that crashed leaves: the session file, its keep request and its last report."""
    store.save(url, 186, {"guid": stored_guid, "signed_in_by": "module"})
    request_keep(store, url, 186, {"route": routes.resolve_route(url).as_dict(), "timeout": 5, "lease": 0})
    generation = KeeperMailbox(store).keep_generation(url, 186)
    write_file(
        store.stem(url, 186) + ".kept.json", {"generation": generation, "alive": True, "guid": newest_guid}
    )


def test_a_sign_out_refused_for_a_stale_guid_is_sent_again_with_the_other_guids_known(store):
    with Gateway({"first"}) as gateway:
        crashed_keeper_left(store, gateway.url, "first", "rotated")
        result = SessionTask(
            params(session_spec(), gateway.url, store, agent_id=186, state="absent"), False, False
        ).run()
        logouts = gateway.lines("/logout")
    assert result["changed"] is True, result
    assert result["message"] == "Agent 186 signed out."
    assert logouts == [("DELETE", "rotated"), ("DELETE", "first")]


def test_a_sign_out_whose_guids_are_all_stale_signs_in_again_to_sign_out(store):
    with Gateway({"someone"}) as gateway:
        crashed_keeper_left(store, gateway.url, "first", "second")
        task = SessionTask(
            params(
                session_spec(),
                gateway.url,
                store,
                agent_id=186,
                state="absent",
                password="pw",
                phone_number="70186",
            ),
            False,
            False,
        )
        result = task.run()
        logouts = gateway.lines("/logout")
        forced = gateway.lines("/forcelogin")
    assert result["changed"] is True, result
    assert logouts == [("DELETE", "second"), ("DELETE", "first"), ("DELETE", "fresh-1")]
    assert len(forced) == 1


def test_a_sign_out_with_stale_guids_and_no_credentials_fails_and_says_what_to_give(store):
    with Gateway({"someone"}) as gateway:
        crashed_keeper_left(store, gateway.url, "first", "second")
        result = SessionTask(
            params(session_spec(), gateway.url, store, agent_id=186, state="absent"), False, False
        ).run()
    assert result["failed"] is True
    assert "000-003" in result["msg"]
    assert "may still be signed in" in result["msg"]
    assert "Give password (and phone_number)" in result["msg"]


def test_a_sign_out_with_stale_guids_signs_in_with_the_stored_phone_number(store):
    with Gateway({"someone"}) as gateway:
        crashed_keeper_left(store, gateway.url, "first", "second")
        store.save(gateway.url, 186, {"guid": "first", "signed_in_by": "module", "phone_number": "70186"})
        values = params(
            session_spec(), gateway.url, store, agent_id=None, all_kept=True, state="absent", password="pw"
        )
        result = SessionTask(values, False, False).run()
        forced = [request for request in gateway.requests if "/forcelogin" in request[0]]
    assert result["results"][0]["changed"] is True, result
    assert json.loads(forced[0][2])["phonenum"] == "70186"
    assert not KeeperMailbox(store).keep_requested(gateway.url, 186)


def test_a_sign_out_is_sent_although_the_keeper_said_the_session_ended(store):
    with Gateway({"still-live"}) as gateway:
        crashed_keeper_left(store, gateway.url, "still-live", "still-live")
        report = store.stem(gateway.url, 186) + ".kept.json"
        generation = KeeperMailbox(store).keep_generation(gateway.url, 186)
        reason = "the keeper stopped following this agent unexpectedly; see keeper.log"
        write_file(report, {"generation": generation, "alive": False, "guid": "still-live", "reason": reason})
        result = SessionTask(
            params(session_spec(), gateway.url, store, agent_id=186, state="absent"), False, False
        ).run()
        logouts = gateway.lines("/logout")
    assert result["changed"] is True, result
    assert logouts == [("DELETE", "still-live")]
    assert store.load(gateway.url, 186) is None


def test_all_kept_of_a_store_that_cannot_be_used_fails_saying_why(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    values = params(session_spec(), "https://gw:8043", SessionStore(str(tmp_path / "link")), agent_id=None)
    result = SessionTask(dict(values, all_kept=True, state="absent"), False, False).run()
    assert result["failed"] is True
    assert "all_kept: the session store cannot be read" in result["msg"] and "symlink" in result["msg"]


def test_all_kept_false_beside_agent_id_is_no_second_choice(store):
    with Gateway(set()) as gateway:
        values = params(session_spec(), gateway.url, store, agent_id=186, state="absent", all_kept=False)
        result = SessionTask(values, False, False).run()
    assert not result.get("failed"), result


def test_only_not_signed_in_counts_as_signed_out(store):
    with Gateway(set()) as gateway:
        crashed_keeper_left(store, gateway.url, "first", "first")
        result = SessionTask(
            params(session_spec(), gateway.url, store, agent_id=186, state="absent"), False, False
        ).run()
    assert result["changed"] is False
    assert result["message"] == "Agent 186 was not signed in."


def test_a_kept_agent_whose_session_ended_before_the_start_is_signed_in_again_once(store):
    url_live = {"someone-else"}
    with Gateway(url_live) as gateway:
        # the keeper vouches for a session the gateway no longer knows (it ended between sign-in and start)
        crashed_keeper_left(store, gateway.url, "gone", "gone")
        spec = record_spec()
        values = params(spec, gateway.url, store, agent_id=186, password="pw", phone_number="70186")
        # The wait for the keeper's newer GUID (at most timeout) ends before the test server drops an idle
        # connection (3 s), so the status query that follows does not race that close.
        values["timeout"] = 2
        task = RecordTask(values, False, False)
        task.keeper.status = lambda wait_for_start=2.0: type(
            "S", (), {"running": True, "stale": False, "pid": 1}
        )()
        task.keeper.ensure_running = lambda wait=10.0: (1, None)
        result = task.run()
        starts = gateway.lines("/record")
    assert result.get("signed_in_again") is True, result
    assert result["task_id"] == "77"
    assert "signed in again and is kept again" in result["message"]
    assert starts == [("PUT", "gone"), ("PUT", "fresh-1")]
    assert KeeperMailbox(store).keep_request(gateway.url, 186).lease == 0  # kept again, with the lease it had
