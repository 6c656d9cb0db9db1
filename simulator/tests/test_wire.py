"""Answers in the shapes real gateways' answers take on the wire: split, chunked, stray, slow.

Each is read by hand on one kept-alive connection (conftest.RawConnection), over HTTPS and plain HTTP.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Client, RawConnection, bursts, start_sim

STATUS = {"message": "", "retcode": "0", "result": {"agentState": 4, "isWorking": False}}
STATUS_PATH = "onlineagent/186/agentstatus"
SHUTDOWN = {
    "event": {"eventType": "AgentOther_ShutdownService", "workNo": "186", "content": {}},
    "message": "",
    "retcode": "0",
}


def inject(client: Client, **spec: Any) -> int:
    response = client.admin("POST", "faults", json=spec)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def entries(client: Client, path: str) -> list[dict[str, Any]]:
    return client.admin("GET", "requests", params={"path_contains": path}).json()["requests"]


def even(data: bytes, count: int) -> list[bytes]:
    cuts = [len(data) * i // count for i in range(count + 1)]
    return [data[cuts[i] : cuts[i + 1]] for i in range(count)]


def read_to_eof(conn: RawConnection, timeout: float) -> tuple[bytes, float]:
    """Everything until the server closes; and when it closed (monotonic)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if conn.read_some(deadline - time.monotonic()) == b"":
            return bytes(conn.buffer), time.monotonic()
    raise AssertionError(f"no EOF within {timeout} s; have {bytes(conn.buffer[:200])!r}")


def status_answer_again(conn: RawConnection, guid: str) -> None:
    """The connection is still read for the next request, which is answered as usual."""
    conn.send("GET", STATUS_PATH, guid)
    assert json.loads(conn.read_answer().body) == STATUS


# ---- split --------------------------------------------------------------------------------------


def test_split_writes_the_answer_in_pieces(any_client: Client) -> None:
    any_client.ready(186)
    guid = any_client.guids[186]
    inject(any_client, kind="split", pieces=3, delay=0.25, path="agentstatus")
    with RawConnection(any_client.sim) as conn:
        started = time.monotonic()
        conn.send("GET", STATUS_PATH, guid)
        answer = conn.read_answer()
        assert time.monotonic() - started >= 0.45
        assert answer.status == 200 and json.loads(answer.body) == STATUS
        assert answer.headers["content-length"] == str(len(answer.body))
        assert answer.headers["content-type"] == "application/json;charset=UTF-8"
        assert "transfer-encoding" not in answer.headers
        # Three writes, a quarter second apart: the first ends inside the head.
        assert bursts(answer.reads, 0.1) == even(answer.raw, 3)
        assert b"\r\n\r\n" not in even(answer.raw, 3)[0]
        status_answer_again(conn, guid)
    entry = entries(any_client, "agentstatus")[-2]
    assert entry["fault"] == "split" and entry["shape"] == "split" and entry["writes"] == 3
    assert entry["retcode"] == "0" and entry["http_status"] == 200


def test_split_head_apart(any_client: Client) -> None:
    any_client.ready(186)
    guid = any_client.guids[186]
    inject(any_client, kind="split", pieces=3, delay=0.2, head_apart=True, method="GET", path="agentstatus")
    with RawConnection(any_client.sim) as conn:
        conn.send("GET", STATUS_PATH, guid)
        answer = conn.read_answer()
        head, body = answer.raw.split(b"\r\n\r\n", 1)
        assert bursts(answer.reads, 0.1) == [head + b"\r\n\r\n", *even(body, 2)]
        assert json.loads(answer.body) == STATUS


def test_split_answer_is_a_normal_answer(any_client: Client) -> None:
    """The request is handled as usual (state changes, Set-GUID); a client reading whole answers sees no change."""
    inject(any_client, kind="split", pieces=5, delay=0.01, count=3)
    assert any_client.sign_in(186).json()["retcode"] == "0"
    assert any_client.call("GET", STATUS_PATH, 186).json() == STATUS
    assert any_client.record(186).json()["retcode"] == "0"
    assert any_client.agent(186)["recording"] is not None
    assert [e.get("shape") for e in entries(any_client, "/186")] == ["split"] * 3


def test_split_with_connection_close(any_client: Client) -> None:
    any_client.ready(186)
    inject(any_client, kind="split", delay=0.05, path="agentstatus")
    with RawConnection(any_client.sim) as conn:
        conn.send("GET", STATUS_PATH, any_client.guids[186], extra="Connection: close\r\n")
        answer = conn.read_answer()
        assert answer.headers["connection"] == "close" and json.loads(answer.body) == STATUS
        assert read_to_eof(conn, 5)[0] == b""


# ---- chunked ------------------------------------------------------------------------------------


def test_chunked_sends_the_body_in_chunks(any_client: Client) -> None:
    any_client.ready(186)
    guid = any_client.guids[186]
    inject(any_client, kind="chunked", pieces=3, delay=0.25, path="agentstatus")
    with RawConnection(any_client.sim) as conn:
        conn.send("GET", STATUS_PATH, guid)
        answer = conn.read_answer()
        assert answer.status == 200 and json.loads(answer.body) == STATUS
        assert answer.headers["transfer-encoding"] == "chunked" and "content-length" not in answer.headers
        assert answer.chunks == even(answer.body, 3)
        # head + first chunk, second chunk, third chunk, the last-chunk marker: four writes.
        pieces = bursts(answer.reads, 0.1)
        assert len(pieces) == 4 and pieces[-1] == b"0\r\n\r\n"
        assert pieces[0].endswith(b"\r\n\r\n%x\r\n%s\r\n" % (len(answer.chunks[0]), answer.chunks[0]))
        status_answer_again(conn, guid)
    entry = entries(any_client, "agentstatus")[-2]
    assert entry["fault"] == "chunked" and entry["writes"] == 4


def test_chunked_through_a_client(any_client: Client) -> None:
    any_client.ready(186)
    inject(any_client, kind="chunked", pieces=4, delay=0.0, method="GET")
    response = any_client.call("GET", STATUS_PATH, 186)
    assert response.headers["Transfer-Encoding"] == "chunked" and response.json() == STATUS
    assert any_client.call("GET", STATUS_PATH, 186).headers.get("Transfer-Encoding") is None


# ---- stray --------------------------------------------------------------------------------------


def test_stray_answer_arrives_on_the_idle_connection(any_client: Client) -> None:
    assert any_client.sign_in(186).json()["retcode"] == "0"
    guid = any_client.guids[186]
    inject(any_client, kind="stray", delay=0.3, path="^agentevent/")
    with RawConnection(any_client.sim) as conn:
        conn.send("GET", "agentevent/186", guid)
        answer = conn.read_answer()
        answered = time.monotonic()
        assert json.loads(answer.body)["event"]["eventType"] == "AgentOther_InService"
        assert conn.read_some(0.1) is None  # nothing yet: the stray comes `delay` after the answer
        stray = conn.read_answer(timeout=5)  # nothing was sent: the connection was idle
        assert time.monotonic() - answered >= 0.25
        assert stray.status == 200 and json.loads(stray.body) == SHUTDOWN
        assert stray.headers["content-length"] == str(len(stray.body))
        foreign = stray.headers["set-guid"]
        assert foreign.startswith("JSESSIONID=") and guid not in foreign
        # The connection stays open and is read for the next request as usual.
        conn.send("GET", "agentevent/186", guid)
        assert json.loads(conn.read_answer().body)["event"]["eventType"] == "AgentState_Ready"
    entry = entries(any_client, "agentevent")[0]
    assert entry["fault"] == "stray" and entry["stray_sent"] is True and entry["retcode"] == "0"
    assert "stray_sent" not in entries(any_client, "agentevent")[1]
    assert any_client.admin("GET", "strays").json() == {"sent": 1, "not_sent": 0}
    assert any_client.agent(186)["signed_in"] is True  # the stray is bytes only: no gateway state changes


def test_stray_is_read_as_the_next_answer_by_a_reusing_client(any_client: Client) -> None:
    any_client.ready(186)
    guid = any_client.guids[186]
    inject(any_client, kind="stray", delay=0.05, path="^agentevent/")
    with RawConnection(any_client.sim) as conn:
        conn.send("GET", "agentevent/186", guid)
        assert json.loads(conn.read_answer().body) == {"message": "", "retcode": "0"}
        time.sleep(0.4)
        conn.send("GET", STATUS_PATH, guid)
        assert json.loads(conn.read_answer().body) == SHUTDOWN  # what a careless client takes as its answer
        assert json.loads(conn.read_answer().body) == STATUS


def test_stray_body_and_guid_given(any_client: Client) -> None:
    any_client.ready(186)
    inject(any_client, kind="stray", delay=0, body='{"retcode":"0"}', guid="x-1.AgentGateway9", count=2)
    with RawConnection(any_client.sim) as conn:
        for _ in range(2):
            conn.send("GET", STATUS_PATH, any_client.guids[186])
            assert json.loads(conn.read_answer().body) == STATUS
            stray = conn.read_answer()
            assert (
                stray.body == b'{"retcode":"0"}'
                and stray.headers["set-guid"] == "JSESSIONID=x-1.AgentGateway9"
            )
    assert any_client.admin("GET", "strays").json() == {"sent": 2, "not_sent": 0}


def wait_strays(client: Client, expected: dict[str, int]) -> None:
    deadline = time.monotonic() + 5
    while client.admin("GET", "strays").json() != expected:
        assert time.monotonic() < deadline, client.admin("GET", "strays").json()
        time.sleep(0.05)


def test_stray_not_sent_when_the_connection_closed(any_client: Client) -> None:
    any_client.ready(186)
    guid = any_client.guids[186]
    inject(any_client, kind="stray", delay=0.5, count=2, path="agentstatus")
    with RawConnection(any_client.sim) as conn:
        conn.send("GET", STATUS_PATH, guid)
        conn.read_answer()
    wait_strays(any_client, {"sent": 0, "not_sent": 1})
    assert entries(any_client, "agentstatus")[0]["stray_sent"] is False
    with RawConnection(any_client.sim) as conn:  # the client says it closes: no stray is written
        conn.send("GET", STATUS_PATH, guid, extra="Connection: close\r\n")
        assert json.loads(conn.read_answer().body) == STATUS
        assert read_to_eof(conn, 5)[0] == b""
    wait_strays(any_client, {"sent": 0, "not_sent": 2})


def test_reset_clears_the_stray_count(any_client: Client) -> None:
    any_client.ready(186)
    inject(any_client, kind="stray", delay=0, path="agentstatus")
    with RawConnection(any_client.sim) as conn:
        conn.send("GET", STATUS_PATH, any_client.guids[186])
        conn.read_answer()
        conn.read_answer()
    assert any_client.admin("GET", "strays").json() == {"sent": 1, "not_sent": 0}
    any_client.admin("POST", "reset")
    assert any_client.admin("GET", "strays").json() == {"sent": 0, "not_sent": 0}


# ---- slow ---------------------------------------------------------------------------------------


def test_slow_answer_trickles_and_completes(any_client: Client) -> None:
    any_client.ready(186)
    guid = any_client.guids[186]
    inject(any_client, kind="slow", interval=0.02, path="agentstatus")
    with RawConnection(any_client.sim) as conn:
        conn.send("GET", STATUS_PATH, guid)
        answer = conn.read_answer()
        assert json.loads(answer.body) == STATUS
        assert b"\r\n\r\n" in answer.reads[0][1]  # the head at once
        size = len(answer.body)
        assert len(answer.reads) >= size // 2
        assert answer.reads[-1][0] - answer.reads[0][0] >= (size - 1) * 0.02 * 0.8
        status_answer_again(conn, guid)
    entry = entries(any_client, "agentstatus")[-2]
    assert entry["fault"] == "slow" and entry["slow"] == "whole" and entry["writes"] == size + 1


def test_slow_answer_is_cut_at_the_limit(any_client: Client) -> None:
    any_client.ready(186)
    inject(any_client, kind="slow", interval=0.3, limit=1.0, path="agentstatus")
    with RawConnection(any_client.sim) as conn:
        started = time.monotonic()
        conn.send("GET", STATUS_PATH, any_client.guids[186])
        received, closed = read_to_eof(conn, 10)
    assert 0.9 <= closed - started < 3
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and 1 <= len(body) <= 4
    assert json.dumps(STATUS, separators=(",", ":")).encode().startswith(body)
    entry = entries(any_client, "agentstatus")[-1]
    assert entry["slow"] == "cut" and entry["retcode"] == "0"


def test_slow_head(any_client: Client) -> None:
    any_client.ready(186)
    inject(any_client, kind="slow", interval=0.05, limit=0.5, slow_head=True, path="agentstatus")
    with RawConnection(any_client.sim) as conn:
        started = time.monotonic()
        conn.send("GET", STATUS_PATH, any_client.guids[186])
        received, closed = read_to_eof(conn, 10)
    assert conn.reads[0][1] == b"H"
    assert 0.4 <= closed - started < 3
    assert 5 <= len(received) <= 12 and b"HTTP/1.1 200 OK".startswith(received)
    assert entries(any_client, "agentstatus")[-1]["slow"] == "cut"


# ---- specs --------------------------------------------------------------------------------------


def test_shape_defaults_listed(client: Client) -> None:
    for kind in ("split", "chunked", "stray", "slow"):
        inject(client, kind=kind, path="agentstatus")
    listed = [
        {k: v for k, v in f.items() if k not in ("id", "method", "path")}
        for f in client.admin("GET", "faults").json()["faults"]
    ]
    assert listed == [
        {"kind": "split", "remaining": 1, "pieces": 2, "delay": 0.02, "head_apart": False},
        {"kind": "chunked", "remaining": 1, "pieces": 2, "delay": 0.02},
        {"kind": "stray", "remaining": 1, "delay": 0.05, "body": None, "guid": None},
        {"kind": "slow", "remaining": 1, "interval": 1.0, "limit": 30.0, "slow_head": False},
    ]


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "split", "pieces": 1},
        {"kind": "split", "pieces": 1001},
        {"kind": "split", "pieces": "3"},
        {"kind": "split", "delay": -0.1},
        {"kind": "split", "delay": 301},
        {"kind": "split", "head_apart": "yes"},
        {"kind": "split", "piece": 3},
        {"kind": "chunked", "pieces": 0},
        {"kind": "chunked", "size": 10},
        {"kind": "stray", "body": 5},
        {"kind": "stray", "guid": "a b"},
        {"kind": "stray", "guid": ""},
        {"kind": "stray", "guid": "x\r\nX-Evil: 1"},
        {"kind": "stray", "delay": "0.1"},
        {"kind": "slow", "interval": 0},
        {"kind": "slow", "interval": 61},
        {"kind": "slow", "limit": 0},
        {"kind": "slow", "limit": 3601},
        {"kind": "slow", "slow_head": 1},
        {"kind": "slow", "count": 0},
    ],
)
def test_shape_validation(client: Client, spec: dict[str, Any]) -> None:
    response = client.admin("POST", "faults", json=spec)
    assert response.status_code == 400 and response.json()["ok"] is False
    assert client.admin("GET", "faults").json() == {"faults": []}


def test_standing_shape_in_config(any_client: Client) -> None:
    """PATCH /_sim/config answer_shape: every matching answer takes the shape; a fault wins; reset ends it."""
    any_client.ready(186)
    shape = {"kind": "chunked", "pieces": 3, "delay": 0, "method": "get", "path": "agentstatus"}
    config = any_client.admin("PATCH", "config", json={"answer_shape": shape}).json()
    assert config["answer_shape"] == {
        "kind": "chunked",
        "method": "GET",
        "path": "agentstatus",
        "pieces": 3,
        "delay": 0.0,
    }
    for _ in range(2):
        response = any_client.call("GET", STATUS_PATH, 186)
        assert response.headers["Transfer-Encoding"] == "chunked" and response.json() == STATUS
    assert "Transfer-Encoding" not in any_client.poll(186).headers  # not matched
    assert "Transfer-Encoding" not in any_client.admin("GET", "config").headers  # never the admin API
    inject(any_client, kind="split", path="agentstatus")
    assert "Content-Length" in any_client.call("GET", STATUS_PATH, 186).headers
    inject(any_client, kind="retcode", retcode="100-007", path="agentstatus")  # other faults: shaped
    response = any_client.call("GET", STATUS_PATH, 186)
    assert response.headers["Transfer-Encoding"] == "chunked" and response.json()["retcode"] == "100-007"
    assert [e.get("shape") for e in entries(any_client, "agentstatus")] == [
        "chunked",
        "chunked",
        "split",
        "chunked",
    ]
    any_client.admin("POST", "reset", json={"config": {"answer_shape": "stray:delay=0,path=agentstatus"}})
    assert any_client.admin("GET", "config").json()["answer_shape"]["kind"] == "stray"
    any_client.admin("POST", "reset")
    assert any_client.admin("GET", "config").json()["answer_shape"] is None


@pytest.mark.parametrize(
    "shape",
    [
        "bogus",
        "split:pieces=1",
        "split:pieces",
        {"kind": "latency", "delay": 1},
        {"kind": "split", "count": 2},
        {"kind": "slow", "limit": -1},
        ["split"],
    ],
)
def test_standing_shape_validation(client: Client, shape: Any) -> None:
    response = client.admin("PATCH", "config", json={"answer_shape": shape})
    assert response.status_code == 400 and "answer_shape" in response.json()["error"]
    assert client.admin("GET", "config").json()["answer_shape"] is None


def test_shapes_over_tls_on_the_asyncio_loop(tmp_path: Path) -> None:
    """The fixtures run on uvloop; asyncio's own TLS transport must send each write as it comes too."""
    sim = start_sim(tmp_path, "--loop", "asyncio")
    try:
        client = sim.client()
        client.ready(186)
        guid = client.guids[186]
        inject(client, kind="split", pieces=3, delay=0.2, path="agentstatus")
        inject(client, kind="chunked", pieces=2, delay=0.2, path="agentstatus")
        inject(client, kind="stray", delay=0.2, path="agentstatus")
        inject(client, kind="slow", interval=0.2, limit=0.5, path="agentstatus")
        with RawConnection(sim) as conn:
            conn.send("GET", STATUS_PATH, guid)
            answer = conn.read_answer()
            assert bursts(answer.reads, 0.1) == even(answer.raw, 3)
            conn.send("GET", STATUS_PATH, guid)
            assert len(bursts(conn.read_answer().reads, 0.1)) == 3
            conn.send("GET", STATUS_PATH, guid)
            assert json.loads(conn.read_answer().body) == STATUS
            assert conn.read_some(0.1) is None
            assert json.loads(conn.read_answer(timeout=5).body) == SHUTDOWN
            conn.send("GET", STATUS_PATH, guid)
            received, _ = read_to_eof(conn, 5)
            assert received.split(b"\r\n\r\n", 1)[1] in (b'{"', b'{"m')
    finally:
        assert sim.stop() == 0
    assert (sim.proc.stderr.read() if sim.proc.stderr else "") == ""
