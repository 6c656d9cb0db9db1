#!/usr/bin/env bash
# make demo: build and install the collection, start the simulator over HTTPS, run the quick-start playbook
# against it, show what the simulator recorded, stop the simulator. It runs in the work home
# (scripts/work-home.sh): HOME inside the checkout, nothing written into the user's own home.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/work-home.sh
. scripts/work-home.sh
demo=$root/.work/demo
rm -rf "$demo"
mkdir -p "$demo/collections" "$demo/sessions"

echo "== Building and installing cec.cc_gateway"
ansible-galaxy collection build --force --output-path "$demo" >/dev/null
ansible-galaxy collection install --force -p "$demo/collections" "$demo"/cec-cc_gateway-*.tar.gz >/dev/null
echo "installed into $demo/collections"

echo "== Starting the CC-Gateway simulator (HTTPS, dynamic authentication)"
python -m ccgw_sim --host 127.0.0.1 --port 0 --cert-dir "$root/.sim" --state-file "$demo/simulator.json" \
  >"$demo/simulator.log" 2>&1 &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null; wait $sim_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  [ -s "$demo/simulator.json" ] && break
  sleep 0.1
done
[ -s "$demo/simulator.json" ] || { echo "the simulator did not start:"; cat "$demo/simulator.log"; exit 1; }
CC_GATEWAY_URL=$(python -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$demo/simulator.json")
CC_GATEWAY_CA_PATH=$root/.sim/ca.pem
echo "simulator at $CC_GATEWAY_URL, CA certificate $CC_GATEWAY_CA_PATH"

echo "== ansible-playbook cec.cc_gateway.start_recording"
CC_GATEWAY_URL=$CC_GATEWAY_URL CC_GATEWAY_CA_PATH=$CC_GATEWAY_CA_PATH CC_GATEWAY_SESSION_DIR=$demo/sessions \
  CC_GATEWAY_AGENT_PASSWORD=Demo-1234 \
  ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
  ANSIBLE_COLLECTIONS_PATH=$demo/collections ansible-playbook "cec.cc_gateway.start_recording"

echo "== What the simulator saw"
python - "$CC_GATEWAY_URL" "$CC_GATEWAY_CA_PATH" <<'PY'
import sys
import requests

url, ca = sys.argv[1], sys.argv[2]
for entry in requests.get(f"{url}/_sim/requests", verify=ca, timeout=10).json()["requests"]:
    print(f"  {entry['method']:6} {entry['path']:55} retcode {entry['retcode']}")
for task in requests.get(f"{url}/_sim/recordings", verify=ca, timeout=10).json()["recordings"]:
    print(f"  recording task {task['task_id']} of agent {task['agent_id']}: ended by {task['end_reason']}")
PY
