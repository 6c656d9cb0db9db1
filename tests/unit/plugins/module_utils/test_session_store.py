# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os
import stat

import pytest
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.store import (
    SessionStore,
    StoreError,
)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_sessions_round_trip_per_gateway_and_agent(tmp_path):
    store = SessionStore(str(tmp_path / "sessions"))
    store.save("https://gw-a:8043/", 186, {"guid": "g-a"})
    store.save("https://gw-b:8043", 186, {"guid": "g-b"})
    store.save("https://gw-a:8043", 187, {"guid": "g-c"})
    assert store.load("https://GW-A:8043", 186)["guid"] == "g-a"
    assert store.load("https://gw-b:8043", 186)["guid"] == "g-b"
    assert store.load("https://gw-a:8043", 187)["guid"] == "g-c"
    assert store.load("https://gw-a:8043", 188) is None
    store.delete("https://gw-a:8043", 186)
    assert store.load("https://gw-a:8043", 186) is None


def test_directory_and_files_are_owner_only(tmp_path):
    directory = tmp_path / "sessions"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    store = SessionStore(str(directory))
    store.save("https://gw:8043", 186, {"guid": "secret"})
    assert mode(directory) == 0o700
    files = [name for name in os.listdir(directory) if name.endswith(".json")]
    assert len(files) == 1
    assert mode(directory / files[0]) == 0o600


def test_a_shared_directory_is_refused_and_left_as_it_is(tmp_path):
    directory = tmp_path / "shared"
    directory.mkdir()
    os.chmod(directory, 0o1777)
    (directory / "someone-elses-file").write_text("x")
    store = SessionStore(str(directory))
    with pytest.raises(StoreError) as caught:
        store.save("https://gw:8043", 186, {"guid": "secret"})
    assert "open to other users (mode 1777)" in str(caught.value)
    assert "session_dir" in str(caught.value)
    assert mode(directory) == 0o1777
    assert sorted(os.listdir(directory)) == ["someone-elses-file"]


def test_writes_leave_no_temporary_files(tmp_path):
    store = SessionStore(str(tmp_path))
    for number in range(5):
        store.save("https://gw:8043", 186, {"guid": f"g{number}"})
    assert [name for name in os.listdir(tmp_path) if name.endswith(".tmp")] == []
    assert store.load("https://gw:8043", 186)["guid"] == "g4"


def test_an_unreadable_file_is_reported_with_its_path(tmp_path):
    store = SessionStore(str(tmp_path))
    store.save("https://gw:8043", 186, {"guid": "g"})
    path = next(tmp_path.glob("*.json"))
    path.write_text("{not json")
    with pytest.raises(StoreError) as caught:
        store.load("https://gw:8043", 186)
    assert str(path) in str(caught.value)


def test_the_environment_variable_chooses_the_default_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("CC_GATEWAY_SESSION_DIR", str(tmp_path / "from-env"))
    assert SessionStore().directory == str(tmp_path / "from-env")
