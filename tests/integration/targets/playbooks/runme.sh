#!/usr/bin/env bash
# Every example under playbooks/ must run, as users would run it (by FQCN, gateway from the environment).
set -euo pipefail
config=../../integration_config.yml
CC_GATEWAY_URL=$(sed -n 's/^cc_gateway_url: //p' "$config")
CC_GATEWAY_CA_PATH=$(sed -n 's/^cc_gateway_ca: //p' "$config")
CC_GATEWAY_SESSION_DIR=$(mktemp -d)
export CC_GATEWAY_URL CC_GATEWAY_CA_PATH CC_GATEWAY_SESSION_DIR
trap 'rm -rf "$CC_GATEWAY_SESSION_DIR"' EXIT
# Agents the other targets left signed in would answer the examples' sign-ins with 100-002.
curl --silent --show-error --fail --cacert "$CC_GATEWAY_CA_PATH" -X POST "$CC_GATEWAY_URL/_sim/reset" >/dev/null
for playbook in start_recording recording_options connection_options session_options; do
  echo "== cec.cc_gateway.$playbook"
  ansible-playbook "cec.cc_gateway.$playbook" "$@"
done

# The campaign, with the simulator's heartbeat limit cut to 3 s and a 4 s pause.
curl --silent --show-error --fail --cacert "$CC_GATEWAY_CA_PATH" -X POST "$CC_GATEWAY_URL/_sim/reset" \
  -H 'Content-Type: application/json' -d '{"config": {"heartbeat_timeout": 3, "guid_interval_ms": 1000, "guid_timeout_ms": 2000}}' >/dev/null
echo "== cec.cc_gateway.campaign"
ansible-playbook cec.cc_gateway.campaign -e first_agent=1150 -e agent_count=20 -e campaign_pause=4 "$@"
curl --silent --show-error --fail --cacert "$CC_GATEWAY_CA_PATH" -X POST "$CC_GATEWAY_URL/_sim/reset" >/dev/null
keepers=$(pgrep -f "cc_gateway_keeper.py --store $CC_GATEWAY_SESSION_DIR" || true)
[ -z "$keepers" ] || { echo "a session keeper is still running: $keepers"; exit 1; }
