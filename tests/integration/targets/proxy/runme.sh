#!/usr/bin/env bash
# Modules and the session keeper through an HTTP CONNECT proxy (HTTPS_PROXY), NO_PROXY networks, and the keeper
# keeping the proxy of the task that kept the agent. The proxy is files/connect_proxy.py on 127.0.0.1.
set -euo pipefail
# The simulator of scripts/run-integration.sh is named and answers (needs/target/setup_simulator), or say so.
ansible-playbook ../setup_simulator/check.yml
# Temporary files inside the checkout, not in /tmp.
# shellcheck source=../setup_simulator/tmpdir.sh
. ../setup_simulator/tmpdir.sh
work=$(mktemp -d)
proxy_pid=
cleanup() {
  if [ -n "$proxy_pid" ]; then kill "$proxy_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
python files/connect_proxy.py "$work/proxy.port" "$work/tunnels.log" &
proxy_pid=$!
for _ in $(seq 1 50); do
  [ -s "$work/proxy.port" ] && break
  sleep 0.1
done
[ -s "$work/proxy.port" ] || { echo "the proxy did not start"; exit 1; }
touch "$work/tunnels.log"
ansible-playbook proxy.yml -e "@../../integration_config.yml" -e "work=$work" \
  -e "proxy_port=$(cat "$work/proxy.port")" -e "proxy_pid=$proxy_pid" "$@"
