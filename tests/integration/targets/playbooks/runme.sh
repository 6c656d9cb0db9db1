#!/usr/bin/env bash
# Every example under playbooks/ must run, as users would run it (by FQCN, gateway from the environment).
set -euo pipefail
# The simulator of scripts/run-integration.sh is named and answers (needs/target/setup_simulator), or say so.
ansible-playbook ../setup_simulator/check.yml
# Temporary files inside the checkout, not in /tmp.
# shellcheck source=../setup_simulator/tmpdir.sh
. ../setup_simulator/tmpdir.sh
config=../../integration_config.yml
CC_GATEWAY_URL=$(sed -n 's/^cc_gateway_url: //p' "$config")
CC_GATEWAY_CA_PATH=$(sed -n 's/^cc_gateway_ca: //p' "$config")
CC_GATEWAY_SESSION_DIR=$(mktemp -d)
CC_GATEWAY_AGENT_PASSWORD=Demo-1234 # the simulator's password
export CC_GATEWAY_URL CC_GATEWAY_CA_PATH CC_GATEWAY_SESSION_DIR CC_GATEWAY_AGENT_PASSWORD
campaign_dir=$(mktemp -d)
trap 'rm -rf "$CC_GATEWAY_SESSION_DIR" "$campaign_dir"' EXIT
# Agents the other targets left signed in would answer the examples' sign-ins with 100-002.
curl --silent --show-error --fail --cacert "$CC_GATEWAY_CA_PATH" -X POST "$CC_GATEWAY_URL/_sim/reset" >/dev/null
for playbook in start_recording recording_options connection_options session_options; do
  echo "== cec.cc_gateway.$playbook"
  ansible-playbook "cec.cc_gateway.$playbook" "$@"
done

# The campaign (the role cec.cc_gateway.campaign) with the controller as its one runner, gateway and session store
# from the environment, the simulator's heartbeat limit cut to 3 s and a 4 s hold; its JSON report must show 20
# passed agents. The target campaign tests the role on several runners.
curl --silent --show-error --fail --cacert "$CC_GATEWAY_CA_PATH" -X POST "$CC_GATEWAY_URL/_sim/reset" \
  -H 'Content-Type: application/json' -d '{"config": {"heartbeat_timeout": 3, "guid_interval_ms": 1000, "guid_timeout_ms": 2000}}' >/dev/null
echo "== cec.cc_gateway.campaign"
python - "$campaign_dir/vars.json" "$campaign_dir/report.json" <<'PY'
import json, sys
agents = [{"agent_id": agent, "phone_number": f"70{agent}"} for agent in range(1150, 1170)]
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump({"cc_gateway_campaign_group": "localhost", "cc_gateway_campaign_agents": agents,
               "cc_gateway_campaign_module_defaults": {"password": "Demo-1234", "max_concurrency": 20},
               "cc_gateway_campaign_hold": 4, "cc_gateway_campaign_report": sys.argv[2]}, out)
PY
ansible-playbook cec.cc_gateway.campaign -e "@$campaign_dir/vars.json" "$@"
python - "$campaign_dir/report.json" <<'PY'
import json, sys
totals = json.load(open(sys.argv[1], encoding="utf-8"))["totals"]
assert totals["agents"] == 20 and totals["passed"] == 20, totals
PY
curl --silent --show-error --fail --cacert "$CC_GATEWAY_CA_PATH" -X POST "$CC_GATEWAY_URL/_sim/reset" >/dev/null
keepers=$(pgrep -f "_state.keeper import main.* -- --store $CC_GATEWAY_SESSION_DIR" || true)
[ -z "$keepers" ] || { echo "a session keeper is still running: $keepers"; exit 1; }

# An agent left kept (as by an interrupted campaign) is signed out by cec.cc_gateway.sign_out_kept; the simulator
# must see it signed out.
curl --silent --show-error --fail --cacert "$CC_GATEWAY_CA_PATH" -X POST "$CC_GATEWAY_URL/_sim/reset" >/dev/null
echo "== cec.cc_gateway.sign_out_kept"
ansible localhost -m cec.cc_gateway.cc_gateway_session \
  -a "agent_id=1171 phone_number=701171 password=$CC_GATEWAY_AGENT_PASSWORD keepalive=true keepalive_lease=600" \
  -e "ansible_python_interpreter=$(command -v python)" "$@" >/dev/null
ansible-playbook cec.cc_gateway.sign_out_kept "$@"
curl --silent --show-error --fail --cacert "$CC_GATEWAY_CA_PATH" "$CC_GATEWAY_URL/_sim/agents/1171" >"$campaign_dir/agent.json"
python - "$campaign_dir/agent.json" <<'PY'
import json, sys
agent = json.load(open(sys.argv[1], encoding="utf-8"))
assert not agent.get("signed_in"), agent
PY
