#!/usr/bin/env bash
# Run every kind of task at -vvv with ANSIBLE_DEBUG and a log file, then look for each secret everywhere.
# The tasks run on the controller (the action plugins). A module shipped to a remote host is another matter
# under ANSIBLE_DEBUG: ansible-core's own debug line prints the arguments of every module it ships.
set -euo pipefail
# The simulator of scripts/run-integration.sh is named and answers (needs/target/setup_simulator), or say so.
ansible-playbook ../setup_simulator/check.yml
# Temporary files inside the checkout, not in /tmp.
# shellcheck source=../setup_simulator/tmpdir.sh
. ../setup_simulator/tmpdir.sh
config=../../integration_config.yml
CC_GATEWAY_URL=$(sed -n 's/^cc_gateway_url: //p' "$config")
CC_GATEWAY_CA_PATH=$(sed -n 's/^cc_gateway_ca: //p' "$config")
work=$(mktemp -d)
# On a failure, the failed tasks' lines and the end of stderr, the test's passwords and hand-made GUID masked.
masked() {
  sed -e "s/${password:-@unset@}/********/g" -e "s/${wrong_password:-@unset@}/********/g" \
    -e "s/${hand_guid:-@unset@}/********/g"
}
trap 'status=$?; [ "$status" = 0 ] || { grep -h -A3 -e "^fatal:" -e "FAILED!" "$work/stdout" | cut -c1-600 | head -40
  tail -n 20 "$work/stderr" | cut -c1-600; } | masked || true; rm -rf "$work"' EXIT
export CC_GATEWAY_URL CC_GATEWAY_CA_PATH CC_GATEWAY_SESSION_DIR=$work/sessions
password=Demo-1234
wrong_password=Wrong-Pass-4321

curl --silent --show-error --fail --cacert "$CC_GATEWAY_CA_PATH" -X POST "$CC_GATEWAY_URL/_sim/reset" >/dev/null
# A session signed in outside the collection, whose GUID is handed to the module.
hand_guid=$(curl --silent --show-error --fail --cacert "$CC_GATEWAY_CA_PATH" -X PUT -D - -o /dev/null \
  -H 'Content-Type: application/json' -d "{\"password\": \"$password\", \"phonenum\": \"70101\"}" \
  "$CC_GATEWAY_URL/agentgateway/resource/onlineagent/101" | sed -n 's/^[Ss]et-[Gg][Uu][Ii][Dd]: JSESSIONID=//p' | tr -d '\r')
[ -n "$hand_guid" ] || { echo "no GUID from the hand sign-in"; exit 1; }

# ANSIBLE_INJECT_INVOCATION: ansible-core 2.21 gives a result its invocation only when asked (earlier ones always).
run() {
  ANSIBLE_DEBUG=1 ANSIBLE_LOG_PATH=$work/ansible.log ANSIBLE_NOCOLOR=1 ANSIBLE_INJECT_INVOCATION=1 \
    ansible-playbook -vvv "$1" \
    -e "agent_password=$password" -e "wrong_password=$wrong_password" -e "hand_guid=$hand_guid" \
    >>"$work/stdout" 2>>"$work/stderr"
}
# The GUIDs the modules and the keeper obtained are in the session store (and the keeper's files), and
# nowhere else; the keeper's are gone after sign-out, so they are read before it.
guids_in_store() {
  python -c '
import glob, json, sys
for path in glob.glob(sys.argv[1] + "/*.json"):
    if not path.endswith(".keep.json"):
        print(json.load(open(path)).get("guid") or "")
' "$CC_GATEWAY_SESSION_DIR"
}
run playbook.yml
run kept.yml
stored_guids="$(guids_in_store)"
run signout.yml
stored_guids=$(printf '%s\n%s\n' "$stored_guids" "$(guids_in_store)" | sort -u | grep -v '^$' || true)
[ "$(echo "$stored_guids" | wc -l)" -ge 2 ] || { echo "fewer than two GUIDs stored (agents 102 and 104): the test would prove little"; exit 1; }
grep -q "Resume" "$work/stdout" || { echo "the kept-session playbook did not run"; exit 1; }
grep -q "Sign in and start" "$work/stdout" || { echo "the playbook did not run"; exit 1; }
[ -s "$work/ansible.log" ] || { echo "no log was written"; exit 1; }

leaks=0
for secret in "$password" "$wrong_password" "$hand_guid" $stored_guids; do
  for file in stdout stderr ansible.log; do
    if grep -qF -- "$secret" "$work/$file"; then
      echo "LEAK: a secret (${#secret} characters) appears in $file"
      leaks=1
    fi
  done
done
[ "$leaks" = 0 ] || exit 1
# At -vvv the results show their invocation, as the shipped module's do: no_log values masked.
grep -q '"password": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' "$work/stdout" \
  || { echo "no invocation with the password masked at -vvv"; exit 1; }
echo "no password or GUID in $(wc -c <"$work/stdout") bytes of stdout, $(wc -c <"$work/stderr") of stderr, $(wc -c <"$work/ansible.log") of log"
