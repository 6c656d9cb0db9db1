#!/usr/bin/env bash
# The session keeper keeps agents handed to it by runs from different directories, each with a CA path
# relative to its own directory: paths reach the keeper absolute, and one bad keep request would not stop it.
set -euo pipefail
# The simulator of scripts/run-integration.sh is named and answers (needs/target/setup_simulator), or say so.
ansible-playbook ../setup_simulator/check.yml
# Temporary files inside the checkout, not in /tmp.
# shellcheck source=../setup_simulator/tmpdir.sh
. ../setup_simulator/tmpdir.sh
config=../../integration_config.yml
url=$(sed -n 's/^cc_gateway_url: //p' "$config")
ca=$(sed -n 's/^cc_gateway_ca: //p' "$config")
here=$(pwd)
work=$(mktemp -d)
sim() { curl --silent --show-error --fail --cacert "$ca" "$@"; }
cleanup() {
  (cd "$work/one" && ansible-playbook "$here/signout.yml" -e "cc_gateway_url=$url" -e "ca=$ca" \
    -e "session_dir=$work/sessions" >/dev/null 2>&1) || true
  sim -X POST "$url/_sim/reset" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
sim -X POST "$url/_sim/reset" -H 'Content-Type: application/json' \
  -d '{"config": {"heartbeat_timeout": 3, "guid_interval_ms": 1000, "guid_timeout_ms": 2000, "poll_hold": 0.5}}' >/dev/null
mkdir -p "$work/one" "$work/two/certs"
cp "$ca" "$work/one/gateway-ca.pem"
cp "$ca" "$work/two/certs/ca.pem"
(cd "$work/one" && ansible-playbook "$here/keep.yml" -e "cc_gateway_url=$url" -e relative_ca=gateway-ca.pem \
  -e "session_dir=$work/sessions" -e agent=1151 "$@")
(cd "$work/two" && ansible-playbook "$here/keep.yml" -e "cc_gateway_url=$url" -e relative_ca=certs/ca.pem \
  -e "session_dir=$work/sessions" -e agent=1152 "$@")
[ "$(cat "$work/keeper-1151.pid")" = "$(cat "$work/keeper-1152.pid")" ] || { echo "two keepers for one store"; exit 1; }
sleep 5 # longer than the heartbeat limit
for agent in 1151 1152; do
  view=$(sim "$url/_sim/agents/$agent")
  echo "$view" | python -c 'import json, sys; v = json.load(sys.stdin); sys.exit(0 if v["signed_in"] and v["sign_in_count"] == 1 else 1)' \
    || { echo "agent $agent was not kept: $view"; exit 1; }
done
kill -0 "$(cat "$work/keeper-1151.pid")" || { echo "the keeper died"; exit 1; }
grep -q '"verify": "/' "$work"/sessions/*1152.keep.json || { echo "the keep request's CA path is not absolute"; exit 1; }
echo "both agents kept past the heartbeat limit by one keeper; CA paths handed over absolute"
