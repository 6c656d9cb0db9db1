"""Command line, TLS, YAML config, state file, clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from conftest import PASSWORD, SIM_ROOT, start_sim


def test_https_start_state_file_and_clean_exit(tmp_path: Path) -> None:
    sim = start_sim(tmp_path)
    state = json.loads(sim.state_file.read_text())
    assert state["url"].startswith("https://127.0.0.1:")
    assert state["pid"] == sim.proc.pid
    ca = Path(state["ca"])
    assert ca.is_absolute() and ca == (tmp_path / "certs" / "ca.pem").resolve()
    assert stat.S_IMODE(ca.stat().st_mode) == 0o644
    port = state["url"].rsplit(":", 1)[1]
    for host in ("127.0.0.1", "localhost"):
        response = requests.get(f"https://{host}:{port}/_sim/config", verify=str(ca), timeout=5)
        assert response.json()["auth_mode"] == 2
    sim.proc.send_signal(signal.SIGTERM)
    assert sim.proc.wait(timeout=10) == 0
    out = sim.proc.stdout.read() if sim.proc.stdout else ""
    assert f"CA certificate: {ca}" in out
    assert f"CC-Gateway simulator listening on {state['url']}" in out
    assert not sim.state_file.exists()


def test_https_rejects_untrusted_client(tmp_path: Path) -> None:
    sim = start_sim(tmp_path)
    try:
        session = requests.Session()
        session.trust_env = False
        try:
            session.get(sim.url + "/_sim/config", timeout=5)
        except requests.exceptions.SSLError:
            pass
        else:
            raise AssertionError("the simulator certificate must not be publicly trusted")
    finally:
        assert sim.stop() == 0


def test_http_yaml_config_and_flags_override(tmp_path: Path) -> None:
    config = tmp_path / "sim.yml"
    config.write_text(
        "AUTHMODE: 1\n"
        "GUIDINTERVAL: 5000\n"
        "GUIDTIMEOUT: 9000\n"
        "IF_ENABLE_AGENT_SELFRECORD: false\n"
        "MAPPINGDISK: Z\n"
        "poll_hold: 0.3\n"
        "heartbeat_timeout: 50\n"
        "signin_delay: 0\n"
        "agents:\n"
        "  - {id: 4001, password: secret, phone: '5551', vdn: 7}\n"
        "  - {id: 4002, inspector_mode: listen}\n"
    )
    sim = start_sim(
        tmp_path, "--http", "--config", str(config), "--guid-timeout", "7000", "--password", "pw2"
    )
    try:
        assert sim.url.startswith("http://") and sim.ca is None
        client = sim.client()
        assert client.admin("GET", "config").json() == {
            "auth_mode": 1,
            "guid_interval_ms": 5000,
            "guid_timeout_ms": 7000,
            "selfrecord": False,
            "mapping_disk": "Z",
            "poll_hold": 0.3,
            "heartbeat_timeout": 50.0,
            "signin_delay": 0.0,
            "max_agent_id": 59999,
            "answer_shape": None,
            "record_bytes_per_second": None,
            "download_enabled": True,
            "cti_pool": False,
        }
        assert client.sign_in(186).json()["retcode"] == "100-004"
        body = client.request(
            "PUT", "onlineagent/4001", json={"password": "secret", "phonenum": "5551"}
        ).json()
        assert body["retcode"] == "0" and body["result"]["vdnid"] == 7
        assert client.record(4001).json()["retcode"] == "000-003"
        assert client.agent(4002)["inspector_mode"] == "listen"
        ok = client.request("PUT", "onlineagent/4002", json={"password": "pw2", "phonenum": "704002"}).json()
        assert ok["retcode"] == "0"
    finally:
        assert sim.stop() == 0


def test_cli_flags(tmp_path: Path) -> None:
    sim = start_sim(
        tmp_path,
        "--http",
        "--auth-mode",
        "1",
        "--guid-interval",
        "1000",
        "--poll-hold",
        "0.5",
        "--heartbeat-timeout",
        "30",
        "--no-selfrecord",
        "--mapping-disk",
        "x",
        "--agents",
        "300-302,59999",
        "--signin-delay",
        "0.1",
    )
    try:
        client = sim.client()
        config = client.admin("GET", "config").json()
        assert config["auth_mode"] == 1 and config["guid_interval_ms"] == 1000
        assert config["poll_hold"] == 0.5 and config["heartbeat_timeout"] == 30.0
        assert config["selfrecord"] is False and config["mapping_disk"] == "X"
        assert config["signin_delay"] == 0.1
        agents = [a["agent_id"] for a in client.admin("GET", "agents").json()["agents"]]
        assert agents == [300, 301, 302, 59999]
        assert client.sign_in(59999).json()["retcode"] == "0"
        assert client.sign_in(186, password=PASSWORD).json()["retcode"] == "100-004"
    finally:
        assert sim.stop() == 0


def test_bad_config_exits_with_error(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SIM_ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "ccgw_sim", "--agents", "50-60"],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 2 and "agent range" in result.stderr


def test_poll_hold_zero_flag(tmp_path: Path) -> None:
    sim = start_sim(tmp_path, "--http", "--poll-hold", "0")
    try:
        client = sim.client()
        assert client.admin("GET", "config").json()["poll_hold"] == 0.0
        client.ready(186)
        assert client.poll(186).content == b'{"message":"","retcode":"0"}'
    finally:
        assert sim.stop() == 0


def _run_config_only(tmp_path: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Start with a bad config: it must exit at once with code 2."""
    config = tmp_path / "bad.yml"
    config.write_text(text)
    env = {**os.environ, "PYTHONPATH": str(SIM_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "ccgw_sim", "--http", "--port", "0", "--config", str(config), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )


@pytest.mark.parametrize(
    ("text", "hold"),
    [
        ("poll_hold: 0\n", 0.0),
        ("AGENT_POLL_WAIT_FLAG: OFF\n", 0.0),
        ("AGENT_POLL_WAIT_FLAG: 'OFF'\nAGENT_POLL_WAIT_TIMES: 100\nAGENT_POLL_WAIT_INTERVAL: 100\n", 0.0),
        ("AGENT_POLL_WAIT_FLAG: ON\nAGENT_POLL_WAIT_TIMES: 3\nAGENT_POLL_WAIT_INTERVAL: 100\n", 0.3),
        ("AGENT_POLL_WAIT_FLAG: 'on'\nAGENT_POLL_WAIT_TIMES: '4'\nAGENT_POLL_WAIT_INTERVAL: 50\n", 0.2),
        ("AGENT_POLL_WAIT_FLAG: true\n", 10.0),  # a real gateway's defaults: 100 x 100 ms
        ("AGENT_POLL_WAIT_INTERVAL: 20\n", 2.0),
        ("AGENT_POLL_WAIT_TIMES: 0\n", 0.0),
    ],
)
def test_yaml_poll_hold_and_basic_properties_keys(tmp_path: Path, text: str, hold: float) -> None:
    config = tmp_path / "sim.yml"
    config.write_text(text)
    sim = start_sim(tmp_path, "--http", "--config", str(config))
    try:
        client = sim.client()
        assert client.admin("GET", "config").json()["poll_hold"] == pytest.approx(hold)
        if hold == 0.0:
            client.ready(186)
            started = time.monotonic()
            assert client.poll(186).content == b'{"message":"","retcode":"0"}'
            assert time.monotonic() - started < 0.5
        # /_sim/reset restores the configured hold, 0 included.
        client.admin("PATCH", "config", json={"poll_hold": 1.5})
        client.admin("POST", "reset")
        assert client.admin("GET", "config").json()["poll_hold"] == pytest.approx(hold)
    finally:
        assert sim.stop() == 0


def test_poll_hold_flag_overrides_basic_properties_keys(tmp_path: Path) -> None:
    config = tmp_path / "sim.yml"
    config.write_text("AGENT_POLL_WAIT_FLAG: OFF\n")
    sim = start_sim(tmp_path, "--http", "--config", str(config), "--poll-hold", "0.25")
    try:
        assert sim.client().admin("GET", "config").json()["poll_hold"] == 0.25
    finally:
        assert sim.stop() == 0


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("poll_hold: -1\n", (), "poll_hold"),
        ("", ("--poll-hold", "-0.5"), "poll_hold"),
        ("AGENT_POLL_WAIT_FLAG: maybe\n", (), "AGENT_POLL_WAIT_FLAG"),
        ("AGENT_POLL_WAIT_FLAG: 1\n", (), "AGENT_POLL_WAIT_FLAG"),
        ("AGENT_POLL_WAIT_TIMES: -3\n", (), "AGENT_POLL_WAIT_TIMES"),
        ("AGENT_POLL_WAIT_INTERVAL: 0.5\n", (), "AGENT_POLL_WAIT_INTERVAL"),
        ("AGENT_POLL_WAIT_FLAG: ON\npoll_hold: 1\n", (), "not both"),
    ],
)
def test_bad_poll_hold_config(tmp_path: Path, text: str, args: tuple[str, ...], message: str) -> None:
    result = _run_config_only(tmp_path, text, *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_max_agent_id_flag_widens_the_range(tmp_path: Path) -> None:
    sim = start_sim(tmp_path, "--http", "--max-agent-id", "999999", "--agents", "186,60000,999999")
    try:
        client = sim.client()
        assert client.admin("GET", "config").json()["max_agent_id"] == 999999
        for agent in (60000, 999999):
            assert client.sign_in(agent).json()["retcode"] == "0"
            assert client.call("GET", f"onlineagent/{agent}/agentstatus", agent).json()["retcode"] == "0"
        assert client.sign_in(123456).json()["retcode"] == "100-004"  # in range, not in the roster
        for bad in ("1000000", "0999999", "99"):
            assert client.request("GET", f"onlineagent/{bad}/agentstatus").json()["retcode"] == "000-002"
    finally:
        assert sim.stop() == 0


def test_max_agent_id_from_yaml(tmp_path: Path) -> None:
    config = tmp_path / "sim.yml"
    config.write_text("max_agent_id: 200000\nagents:\n  - {id: 123456}\n")
    sim = start_sim(tmp_path, "--http", "--config", str(config))
    try:
        client = sim.client()
        assert client.admin("GET", "config").json()["max_agent_id"] == 200000
        assert client.sign_in(123456).json()["retcode"] == "0"
        assert client.request("GET", "onlineagent/200001/agentstatus").json()["retcode"] == "000-002"
    finally:
        assert sim.stop() == 0


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("", ("--max-agent-id", "1000000"), "max_agent_id"),
        ("", ("--max-agent-id", "100"), "max_agent_id"),
        ("max_agent_id: '70000'\n", (), "max_agent_id"),
        ("", ("--agents", "186,60000"), "agent range '60000' must lie within 101-59999"),
        ("", ("--max-agent-id", "70000", "--agents", "70001"), "within 101-70000"),
        ("max_agent_id: 70000\nagents: [{id: 70001}]\n", (), "outside 101-70000"),
    ],
)
def test_bad_max_agent_id(tmp_path: Path, text: str, args: tuple[str, ...], message: str) -> None:
    result = _run_config_only(tmp_path, text, *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_answer_shape_flag_applies_to_every_gateway_answer(tmp_path: Path) -> None:
    sim = start_sim(tmp_path, "--answer-shape", "chunked:pieces=3,delay=0")
    try:
        client = sim.client()
        assert client.admin("GET", "config").json()["answer_shape"] == {
            "kind": "chunked",
            "method": None,
            "path": None,
            "pieces": 3,
            "delay": 0.0,
        }
        response = client.sign_in(186)
        assert response.headers["Transfer-Encoding"] == "chunked" and response.json()["retcode"] == "0"
        assert client.record(186).headers["Transfer-Encoding"] == "chunked"
        assert client.agent(186)["recording"] is not None
        assert "Content-Length" in client.admin("GET", "agents/186").headers
    finally:
        assert sim.stop() == 0


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ("answer_shape: {kind: split, pieces: 4, head_apart: true, path: '^agentevent/'}\n", ()),
        ("answer_shape: 'split:pieces=4,head_apart=true,path=^agentevent/'\n", ()),
        (
            "answer_shape: chunked\n",
            ("--answer-shape", '{"kind": "split", "pieces": 4, "head_apart": true, "path": "^agentevent/"}'),
        ),
    ],
)
def test_answer_shape_yaml_and_flag(tmp_path: Path, text: str, args: tuple[str, ...]) -> None:
    config = tmp_path / "sim.yml"
    config.write_text(text)
    sim = start_sim(tmp_path, "--http", "--config", str(config), *args)
    try:
        client = sim.client()
        shape = client.admin("GET", "config").json()["answer_shape"]
        assert shape == {
            "kind": "split",
            "method": None,
            "path": "^agentevent/",
            "pieces": 4,
            "delay": 0.02,
            "head_apart": True,
        }
        client.ready(186)
        requests_log = client.admin("GET", "requests").json()["requests"]
        assert [entry.get("shape") for entry in requests_log] == [None, "split", "split", "split"]
    finally:
        assert sim.stop() == 0


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ("", ("--answer-shape", "bogus")),
        ("", ("--answer-shape", "split:pieces=1")),
        ("", ("--answer-shape", "slow:interval")),
        ("", ("--answer-shape", "{not json")),
        ("", ("--answer-shape", '{"kind": "stray", "count": 1}')),
        ("answer_shape: {kind: latency}\n", ()),
        ("answer_shape: [split]\n", ()),
    ],
)
def test_bad_answer_shape(tmp_path: Path, text: str, args: tuple[str, ...]) -> None:
    result = _run_config_only(tmp_path, text, *args)
    assert result.returncode == 2 and "answer_shape" in result.stderr, result.stderr


def test_answer_shape_none_overrides_the_file(tmp_path: Path) -> None:
    config = tmp_path / "sim.yml"
    config.write_text("answer_shape: slow\n")
    sim = start_sim(tmp_path, "--http", "--config", str(config), "--answer-shape", "none")
    try:
        assert sim.client().admin("GET", "config").json()["answer_shape"] is None
    finally:
        assert sim.stop() == 0


def test_recording_file_options_from_yaml_and_flags(tmp_path: Path) -> None:
    config = tmp_path / "sim.yml"
    config.write_text("record_bytes_per_second: 5000\ndownload_enabled: 'false'\ncti_pool: true\n")
    sim = start_sim(tmp_path, "--http", "--config", str(config))
    try:
        client = sim.client()
        config_view = client.admin("GET", "config").json()
        assert config_view["record_bytes_per_second"] == 5000
        assert config_view["download_enabled"] is False and config_view["cti_pool"] is True
        client.admin("PATCH", "config", json={"record_bytes_per_second": None, "cti_pool": False})
        client.admin("POST", "reset")
        assert client.admin("GET", "config").json()["record_bytes_per_second"] == 5000
    finally:
        assert sim.stop() == 0
    sim = start_sim(
        tmp_path, "--http", "--config", str(config), "--record-bytes-per-second", "2000000", "--no-download"
    )
    try:
        config_view = sim.client().admin("GET", "config").json()
        assert config_view["record_bytes_per_second"] == 2000000 and config_view["download_enabled"] is False
    finally:
        assert sim.stop() == 0
    sim = start_sim(tmp_path, "--http", "--cti-pool")
    try:
        config_view = sim.client().admin("GET", "config").json()
        assert config_view["cti_pool"] is True and config_view["download_enabled"] is True
        assert config_view["record_bytes_per_second"] is None
    finally:
        assert sim.stop() == 0


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("record_bytes_per_second: 0\n", (), "record_bytes_per_second"),
        ("record_bytes_per_second: '8000'\n", (), "record_bytes_per_second"),
        ("", ("--record-bytes-per-second", "0"), "record_bytes_per_second"),
        ("download_enabled: maybe\n", (), "download_enabled"),
        ("cti_pool: 1\n", (), "cti_pool"),
    ],
)
def test_bad_recording_file_options(tmp_path: Path, text: str, args: tuple[str, ...], message: str) -> None:
    result = _run_config_only(tmp_path, text, *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def _listen_backlog(port: int) -> int:
    """The backlog of the socket listening on port, as the kernel reports it (ss: Send-Q of a listener)."""
    out = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    return int(out.split()[2])


@pytest.mark.skipif(not Path("/proc/sys/net/core/somaxconn").exists(), reason="Linux only")
def test_the_listen_backlog_takes_thousands_of_connections_at_once(tmp_path: Path) -> None:
    if subprocess.run(["sh", "-c", "command -v ss"], capture_output=True, check=False).returncode != 0:
        pytest.skip("no ss here to read the backlog")
    cap = int(Path("/proc/sys/net/core/somaxconn").read_text())
    for args, expected in (((), min(4096, cap)), (("--backlog", "64"), 64)):
        sim = start_sim(tmp_path, *args)
        try:
            port = int(json.loads(sim.state_file.read_text())["url"].rsplit(":", 1)[1])
            assert _listen_backlog(port) == expected
        finally:
            sim.proc.send_signal(signal.SIGTERM)
            sim.proc.wait(timeout=10)
