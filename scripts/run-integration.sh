#!/usr/bin/env bash
# Start the simulator on a free loopback port, tell the integration targets where it is, run them, stop it.
#
#   scripts/run-integration.sh COLLECTION_DIR [ansible-test integration options ...]
#
# The tools on PATH are used (make puts its venv first). ansible-test gets --python $ANSIBLE_TEST_PYTHON, by
# default the version of the interpreter of the ansible-test on PATH. All of it runs in the work home
# (scripts/work-home.sh): HOME inside the checkout.
set -euo pipefail
collection=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
# A Python 3.9 for the target legacy_python (the module shipped to a RHEL 9-like host): CC_GATEWAY_LEGACY_PYTHON,
# or python3.9 if this machine has one (looked for before HOME moves, pyenv's versions are in the user's home).
legacy=${CC_GATEWAY_LEGACY_PYTHON-$("$root/scripts/find-python.sh" python3.9 || true)}
# shellcheck source=scripts/work-home.sh
. "$(dirname "$0")/work-home.sh"
if [ -z "${ANSIBLE_TEST_PYTHON:-}" ]; then
  ansible_test=$(command -v ansible-test) || { echo "no ansible-test on PATH"; exit 1; }
  test_python=$(dirname "$ansible_test")/python
  [ -x "$test_python" ] || test_python=python
  ANSIBLE_TEST_PYTHON=$("$test_python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
fi
legacy_python=
if [ -n "$legacy" ]; then
  # Its own venv in the checkout, with the runtime requirements as requirements.txt gives them (ranges).
  legacy_venv=$root/.work/venv-legacy
  stamp=$( (cat "$root/requirements.txt"; "$legacy" -V) | sha256sum | cut -c1-16)
  if [ "$(cat "$legacy_venv/.installed" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$legacy_venv"
    "$legacy" -m venv "$legacy_venv"
    "$legacy_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/requirements.txt"
    echo "$stamp" >"$legacy_venv/.installed"
  fi
  legacy_python=$legacy_venv/bin/python
  echo "legacy_python target: $("$legacy_python" -V) with $("$legacy_python" -m pip list --format=freeze 2>/dev/null |
    grep -i -E '^(requests|jsonschema|aiohttp)==' | tr '\n' ' ')"
else
  echo "legacy_python target: no python3.9 here (CC_GATEWAY_LEGACY_PYTHON unset); it will say it was skipped"
fi
# A Python for the runner hosts of the target campaign_ssh (local users reached over SSH): it must run as any
# user and import the runtime requirements. CC_GATEWAY_RUNNER_PYTHON, or the interpreter of ansible-test when
# another user may run it, or else a venv of its own (.work/venv-runner) made from a python3 every user may run.
# Only where that target can run at all (as root, with an sshd); elsewhere it says it was skipped.
runner_python=${CC_GATEWAY_RUNNER_PYTHON-}
if [ -z "$runner_python" ] && [ "$(id -u)" = 0 ] && [ -x /usr/sbin/sshd ] && command -v setpriv >/dev/null; then
  as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
  # The interpreter itself (a venv's python is a symlink, maybe into a home other users may not enter), the
  # same for another user as for this one, with the libraries.
  needs='import os, sys, requests, jsonschema, aiohttp; os.stat(os.path.realpath(sys.executable)); print(sys.version)'
  usable() {
    local mine
    mine=$("$1" -c "$needs" 2>/dev/null) && [ -n "$mine" ] && [ "$(cd / && as_nobody "$1" -c "$needs" 2>/dev/null)" = "$mine" ]
  }
  test_interpreter=$(python -c 'import sys; print(sys.executable)')
  if usable "$test_interpreter"; then
    runner_python=$test_interpreter
  else
    base_python=
    for candidate in /usr/bin/python3 /usr/local/bin/python3; do
      if [ -x "$candidate" ] && (cd / && as_nobody "$candidate" -c 'import sys, venv; assert sys.version_info >= (3, 9)') 2>/dev/null; then
        base_python=$candidate
        break
      fi
    done
    if [ -n "$base_python" ]; then
      runner_venv=$root/.work/venv-runner
      stamp=$( (cat "$root/requirements.txt"; "$base_python" -V) | sha256sum | cut -c1-16)
      if [ "$(cat "$runner_venv/.installed" 2>/dev/null)" != "$stamp" ]; then
        rm -rf "$runner_venv"
        "$base_python" -m venv "$runner_venv"
        "$runner_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/requirements.txt"
        chmod -R go+rX,go-w "$runner_venv"
        echo "$stamp" >"$runner_venv/.installed"
      fi
      if usable "$runner_venv/bin/python"; then
        runner_python=$runner_venv/bin/python
      fi
    fi
  fi
fi
if [ -n "$runner_python" ]; then
  echo "campaign_ssh target: runner hosts run $runner_python ($("$runner_python" -V 2>&1))"
else
  echo "campaign_ssh target: no sshd, not root, or no Python other users may run (CC_GATEWAY_RUNNER_PYTHON unset); it will say it was skipped"
fi
run=$(mktemp -d)
cleanup() {
  if [ -n "${sim_pid:-}" ] && kill -0 "$sim_pid" 2>/dev/null; then
    kill "$sim_pid"
    wait "$sim_pid" 2>/dev/null || true
  fi
  rm -rf "$run"
}
trap cleanup EXIT
python -m ccgw_sim --host 127.0.0.1 --port 0 --cert-dir "$run" --state-file "$run/state.json" \
  --poll-hold 0.5 --max-agent-id 999999 --agents 101-120,186-195,1001-1200,2001-2220,3001-3220,654321 >"$run/simulator.log" 2>&1 &
sim_pid=$!
for _ in $(seq 1 100); do
  [ -s "$run/state.json" ] && break
  kill -0 "$sim_pid" 2>/dev/null || { cat "$run/simulator.log"; exit 1; }
  sleep 0.1
done
[ -s "$run/state.json" ] || { echo "simulator did not start"; cat "$run/simulator.log"; exit 1; }
python - "$run/state.json" "$collection/tests/integration/integration_config.yml" "$legacy_python" "$runner_python" \
  "$TMPDIR" <<'PY'
import json, sys
state = json.load(open(sys.argv[1]))
with open(sys.argv[2], "w") as out:
    out.write(f"cc_gateway_url: {state['url']}\n")
    out.write(f"cc_gateway_ca: {state['ca']}\n")
    out.write(f"cc_gateway_admin_url: {state['url']}/_sim\n")
    out.write(f"cc_gateway_legacy_python: '{sys.argv[3]}'\n")
    out.write(f"cc_gateway_runner_python: '{sys.argv[4]}'\n")
    out.write(f"cc_gateway_tmpdir: '{sys.argv[5]}'\n")  # the work home's: tests/integration/targets/setup_simulator/tmpdir.sh
PY
# Ansible makes the temporary directories of the modules it runs in remote_tmp, by default ~USER/.ansible/tmp
# with USER's home from the password database (not $HOME), so in the user's own home even on localhost.
# ansible-test passes no environment on, but gives Ansible tests/integration/integration.cfg of the collection:
# the copy's gets remote_tmp in the work home (a remote_tmp already set there stays).
# The same for async_dir (async_wrapper writes a job's result there, async_status reads it).
python - "$collection/tests/integration/integration.cfg" "$ANSIBLE_REMOTE_TMP" "$HOME/.ansible_async" <<'PY'
import configparser
import sys

path, remote_tmp, async_dir = sys.argv[1:]
config = configparser.ConfigParser(interpolation=None)
config.read(path)
if not config.has_section("defaults"):
    config.add_section("defaults")
config["defaults"].setdefault("remote_tmp", remote_tmp)
config["defaults"].setdefault("async_dir", async_dir)
with open(path, "w") as out:
    config.write(out)
PY
cd "$collection"
ansible-test integration --local --python "$ANSIBLE_TEST_PYTHON" --color no "$@"
