#!/usr/bin/env bash
# The role cec.cc_gateway.campaign over real SSH. Three runner hosts are three local users (homes in this target's
# output directory) reached through an sshd that this script starts on 127.0.0.1 with a host key, configuration
# and pid file of its own; the modules and the session keepers run as those users, with the runner Python that
# scripts/run-integration.sh prepared (cc_gateway_runner_python). Against the simulator (agents 1001-1030):
#   a. a normal campaign, 3 runners x 10 agents held past the heartbeat limit, while one runner's SSH connection
#      is cut during the hold (a blip: it may log in again): every agent recorded, stopped and signed out once;
#   b. + c. one campaign in which, during the hold, runner ssh1's session keeper is killed and runner ssh2 is cut
#      off (its SSH connection ended, its logins refused), with a 30 s lease: ssh3's agents pass; ssh1's agents
#      are all signed out for real by the campaign (their GUIDs went stale with the keeper); ssh2 becomes
#      UNREACHABLE, the report says its agents were left to the lease, and once the lease is over the gateway
#      has seen their recordings stopped and the agents signed out by ssh2's keeper, which says why
#      (cc_gateway_event_info session_end_reason, keeper.log); then the playbook cec.cc_gateway.sign_out_kept
#      finds nothing left to end.
# Skipped, saying so, where it cannot run: not root, no /usr/sbin/sshd (.ci/run installs openssh-server), no
# Python the runner users may run, or an sshd that does not start. Every wait is bounded; the users, their
# processes and the sshd are removed at the end, whatever happened.
set -euo pipefail
# The simulator of scripts/run-integration.sh is named and answers (needs/target/setup_simulator), or say so.
ansible-playbook ../setup_simulator/check.yml
# Temporary files inside the checkout, not in /tmp.
# shellcheck source=../setup_simulator/tmpdir.sh
. ../setup_simulator/tmpdir.sh
config=../../integration_config.yml
GATEWAY_URL=$(sed -n 's/^cc_gateway_url: //p' "$config")
SIM_CA=$(sed -n 's/^cc_gateway_ca: //p' "$config")
RUNNER_PYTHON=$(sed -n "s/^cc_gateway_runner_python: '\\(.*\\)'\$/\\1/p" "$config")
here=$(pwd)
check_campaign=$here/../campaign/check_campaign.py

skip() {
  echo "campaign_ssh: SKIPPED: $*"
  exit 0
}
[ "$(id -u)" = 0 ] || skip "it must run as root (it adds local users as runner hosts and starts an sshd)."
[ -x /usr/sbin/sshd ] || skip "there is no /usr/sbin/sshd (apt-get install openssh-server; .ci/run does that in CI)."
for tool in useradd usermod userdel setpriv ssh ssh-keygen curl pgrep; do
  command -v "$tool" >/dev/null || skip "$tool is missing."
done
[ -n "$RUNNER_PYTHON" ] || skip "no Python the runner users may run (cc_gateway_runner_python of integration_config.yml; scripts/run-integration.sh finds or makes one)."

base=$(mktemp -d "$OUTPUT_DIR/ssh.XXXXXX")
chmod 755 "$base"
prefix=ccgwssh$$
users=()
sshd_pid=
watcher=
sim() { curl --silent --show-error --fail --cacert "$SIM_CA" "$@"; }

# Processes of one of this script's users, by their ids.
end_user_processes() {
  local user=$1 pids
  pids=$(pgrep -u "$user" || true)
  [ -z "$pids" ] && return 0
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 1 20); do
    pgrep -u "$user" >/dev/null || return 0
    sleep 0.1
  done
  pids=$(pgrep -u "$user" || true)
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}
remove_user() {
  local user=$1
  end_user_processes "$user"
  for _ in 1 2 3 4 5; do
    userdel "$user" 2>/dev/null && break
    sleep 0.2
    end_user_processes "$user"
  done
  ! id "$user" >/dev/null 2>&1 || echo "campaign_ssh: could not remove user $user"
}
cleanup() {
  status=$?
  set +e
  if [ -n "$watcher" ]; then kill "$watcher" 2>/dev/null; fi
  if [ "$status" != 0 ]; then
    for log in "$base"/home/*/sessions/keeper.log; do
      [ -f "$log" ] && { echo "== $log"; grep -v -e 'released agent' -e 'keeping agent' "$log" | tail -40; }
    done
    [ -f "$base/sshd.log" ] && { echo "== sshd.log"; grep -v -e 'session: ' -e sftp "$base/sshd.log" | tail -20; }
    for report in "$base"/*/campaign.json; do
      [ -f "$report" ] && python - "$report" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
print("== " + sys.argv[1], json.dumps(report["totals"]))
for row in report["agents"]:
    print(row["agent_id"], row["runner"], row["outcome"], row["step"], row["message"][:300])
PY
    done
  fi
  for user in "${users[@]}"; do remove_user "$user"; done
  if [ -n "$sshd_pid" ]; then
    kill "$sshd_pid" 2>/dev/null
    wait "$sshd_pid" 2>/dev/null
  fi
  sim -X POST "$GATEWAY_URL/_sim/reset" >/dev/null
  rm -rf "$base"
}
trap cleanup EXIT

# Users of runs of this target that were killed before their cleanup (their homes are gone with their output
# directory): remove them, and their processes, first.
while IFS=: read -r name _ _ _ _ home _; do
  if [[ $name =~ ^ccgwssh[0-9]+-[0-9]$ ]] && [ ! -d "$home" ]; then
    echo "removing $name, left by an earlier run"
    remove_user "$name"
  fi
done </etc/passwd

for agent in 1001 1030; do
  sim -o /dev/null "$GATEWAY_URL/_sim/agents/$agent" || {
    echo "The simulator does not know agent $agent: this target needs agents 1001-1030 (scripts/run-integration.sh --agents)."
    exit 1
  }
done

# The simulator's CA where the runner users may read it.
install -m 644 "$SIM_CA" "$base/ca.pem"
export GATEWAY_URL GATEWAY_CA=$base/ca.pem

# The runner users: key-only login ('*' is no password, yet not a locked account, which sshd refuses without
# PAM), homes here. StrictModes holds: each home and its .ssh belong to the user and only the user writes them.
ssh-keygen -q -t ed25519 -N '' -C campaign_ssh -f "$base/id_ed25519"
ssh-keygen -q -t ed25519 -N '' -C campaign_ssh_host -f "$base/ssh_host_ed25519_key"
install -d -m 755 "$base/home"
for i in 1 2 3; do
  user=$prefix-$i
  home=$base/home/ssh$i
  useradd --home-dir "$home" --create-home --shell /bin/sh --user-group "$user"
  users+=("$user")
  usermod -p '*' "$user"
  chmod 700 "$home"
  install -d -m 700 -o "$user" -g "$user" "$home/.ssh"
  install -m 600 -o "$user" -g "$user" "$base/id_ed25519.pub" "$home/.ssh/authorized_keys"
done
# What the users need of the controller's files: the runner Python (with the runtime requirements), their
# home, the CA. (The interpreter a symlink leads to must be reachable too, and be the same as root's.)
needs='import os, sys, requests, jsonschema, aiohttp; os.stat(os.path.realpath(sys.executable)); print(sys.version)'
if [ "$(cd / && setpriv --reuid="$prefix-1" --regid="$prefix-1" --clear-groups "$RUNNER_PYTHON" -c "$needs; open('$base/ca.pem').close()")" \
  != "$("$RUNNER_PYTHON" -c "$needs")" ]; then
  echo "campaign_ssh: user $prefix-1 cannot run $RUNNER_PYTHON with requests, jsonschema and aiohttp, or read $base/ca.pem:"
  echo "every directory above them must let other users in (o+x)."
  exit 1
fi

port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$base/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $base/ssh_host_ed25519_key
PidFile $base/sshd.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
StrictModes yes
PermitRootLogin no
AllowUsers ${users[*]}
MaxStartups 100:30:200
MaxSessions 100
LoginGraceTime 30
PrintMotd no
LogLevel VERBOSE
EOF
# sshd wants its privilege separation directory (the package's service makes it at boot).
[ -d /run/sshd ] || install -d -m 755 /run/sshd
/usr/sbin/sshd -t -f "$base/sshd_config" 2>"$base/sshd.log" || skip "sshd refuses to run here: $(cat "$base/sshd.log")"
/usr/sbin/sshd -D -f "$base/sshd_config" -E "$base/sshd.log" &
sshd_pid=$!
ssh_to() {
  local user=$1
  shift
  ssh -i "$base/id_ed25519" -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile="$base/known_hosts" -o ConnectTimeout=5 "$user@127.0.0.1" "$@"
}
up=
for _ in $(seq 1 50); do
  kill -0 "$sshd_pid" 2>/dev/null || skip "sshd did not start: $(tail -5 "$base/sshd.log")"
  if ssh_to "$prefix-1" true 2>/dev/null; then
    up=yes
    break
  fi
  sleep 0.2
done
[ -n "$up" ] || {
  ssh_to "$prefix-1" true || true
  echo "campaign_ssh: cannot log in as $prefix-1 through the sshd on port $port"
  exit 1
}
echo "sshd on 127.0.0.1:$port; runner users ${users[*]}; runner Python $RUNNER_PYTHON"

cat >"$base/inventory.ini" <<EOF
[cc_gateway_runners]
ssh1 ansible_user=$prefix-1 runner_home=$base/home/ssh1
ssh2 ansible_user=$prefix-2 runner_home=$base/home/ssh2
ssh3 ansible_user=$prefix-3 runner_home=$base/home/ssh3

[cc_gateway_runners:vars]
ansible_connection=ssh
ansible_host=127.0.0.1
ansible_port=$port
ansible_python_interpreter=$RUNNER_PYTHON
ansible_remote_tmp=~/.ansible/tmp
ansible_ssh_private_key_file=$base/id_ed25519
ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=$base/known_hosts -o ServerAliveInterval=5 -o ServerAliveCountMax=3'
ansible_ssh_retries=2
EOF

# vars <file> <hold> <report> [more "key": value JSON members]
vars() {
  python - "$@" <<'PY'
import json, sys
path, hold, report = sys.argv[1:4]
variables = {
    "cc_gateway_campaign_module_defaults": {
        "gateway_url": "{{ lookup('ansible.builtin.env', 'GATEWAY_URL') }}",
        "ca_path": "{{ lookup('ansible.builtin.env', 'GATEWAY_CA') }}",
        "session_dir": "{{ runner_home }}/sessions",
        "password": "Demo-1234",
        "timeout": 10,
        "max_concurrency": 10,
    },
    "cc_gateway_campaign_agents": [
        {"agent_id": agent, "phone_number": f"70{agent}"} for agent in range(1001, 1031)
    ],
    "cc_gateway_campaign_hold": int(hold),
    "cc_gateway_campaign_wait_timeout": 10,
    "cc_gateway_campaign_report": report,
}
for extra in sys.argv[4:]:
    variables.update(json.loads("{" + extra + "}"))
with open(path, "w", encoding="utf-8") as out:
    json.dump(variables, out)
PY
}
reset() {
  sim -X POST "$GATEWAY_URL/_sim/reset" -H 'Content-Type: application/json' -d "{\"config\": $1}" >/dev/null
}
# campaign <name> <expected exit code> [ansible-playbook arguments]: output in $base/<name>.log.
campaign() {
  local name=$1 expected=$2 rc=0
  shift 2
  ansible-playbook cec.cc_gateway.campaign -i "$base/inventory.ini" --forks 6 "$@" >"$base/$name.log" 2>&1 || rc=$?
  sed -n '/^PLAY RECAP/,$p' "$base/$name.log"
  if [ "$rc" != "$expected" ]; then
    tail -n 120 "$base/$name.log"
    echo "$name: ansible-playbook exited with $rc, expected $expected"
    exit 1
  fi
}
# Wait (at most 120 s) until the campaign's log shows the hold has begun, then do "$@" once.
during_hold() {
  local log=$1
  shift
  for _ in $(seq 1 1200); do
    if grep -q "TASK \[cec.cc_gateway.campaign : Hold the recordings" "$log" 2>/dev/null; then
      sleep 1
      "$@"
      return
    fi
    sleep 0.1
  done
  echo "the hold never began in $log"
}
# End a runner's SSH connection: its sshd session process (sshd: user@notty), the user's own process.
cut_ssh() {
  local user=$1 pids
  pids=$(pgrep -u "$user" -f "^sshd: $user@" || true)
  echo "ending the SSH connection of $user: sshd session process(es) ${pids:-none}"
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill -TERM $pids
}
store_of() { echo "$base/home/ssh$1/sessions"; }

echo "== a. 3 runners x 10 agents over SSH, held past the heartbeat limit; ssh1's connection cut during the hold"
reset '{"auth_mode": 2, "heartbeat_timeout": 5, "guid_interval_ms": 2000, "guid_timeout_ms": 4000, "poll_hold": 0.5}'
vars "$base/vars_a.json" 8 "$base/a/campaign.json"
during_hold "$base/a.log" cut_ssh "$prefix-1" >"$base/blip.txt" 2>&1 &
watcher=$!
SECONDS=0
campaign a 0 -e "@$base/vars_a.json" "$@"
echo "ansible-playbook took $SECONDS s"
wait "$watcher"
watcher=
cat "$base/blip.txt"
grep -q "sshd session process(es) [0-9]" "$base/blip.txt" || {
  echo "a: no SSH connection of ssh1 was open during the hold, so none was cut"
  exit 1
}
python "$check_campaign" passing --agents 1001-1030 --runners ssh1,ssh2,ssh3 --report "$base/a/campaign.json" --hold 8 --heartbeat 5
for i in 1 2 3; do
  if pgrep -u "$prefix-$i" -f -- "--store $(store_of "$i")" >/dev/null; then
    sleep 3 # the keeper exits once asked to stop; give it a moment
    ! pgrep -u "$prefix-$i" -f -- "--store $(store_of "$i")" >/dev/null || {
      echo "a: the session keeper of ssh$i still runs after the campaign"
      exit 1
    }
  fi
done

echo "== b. + c. ssh1's session keeper killed and ssh2 cut off during the hold; a 30 s lease"
# A heartbeat limit longer than the run: only the campaign's sign-out, or ssh2's keeper at the end of the lease,
# ends a session. GUIDs change every 2 s, so ssh1's stored GUIDs go stale once its keeper is dead.
reset '{"auth_mode": 2, "heartbeat_timeout": 90, "guid_interval_ms": 2000, "guid_timeout_ms": 4000, "poll_hold": 0.5}'
vars "$base/vars_bc.json" 10 "$base/bc/campaign.json" '"cc_gateway_campaign_lease": 30' '"cc_gateway_campaign_reconnect_timeout": 6'
kill_keeper_and_cut() {
  local pids
  pids=$(pgrep -u "$prefix-1" -f -- "--store $(store_of 1)" || true)
  echo "killing the session keeper of ssh1: ${pids:-none}"
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill -KILL $pids
  # ssh2: logins refused from now on, and its open connection ended.
  mv "$base/home/ssh2/.ssh/authorized_keys" "$base/home/ssh2/.ssh/authorized_keys.off"
  date +%s%3N >"$base/cut_at"
  cut_ssh "$prefix-2"
}
during_hold "$base/bc.log" kill_keeper_and_cut >"$base/faults.txt" 2>&1 &
watcher=$!
SECONDS=0
# Exit code 4: a host was unreachable (ssh2), which wins over the failed hosts' 2.
campaign bc 4 -e "@$base/vars_bc.json" "$@"
echo "ansible-playbook took $SECONDS s"
wait "$watcher"
watcher=
cat "$base/faults.txt"
grep -q "killing the session keeper of ssh1: [0-9]" "$base/faults.txt" || { echo "b: ssh1's keeper was not running during the hold"; exit 1; }
grep -q "^ssh2 .*unreachable=1" "$base/bc.log" || { echo "c: ssh2 did not become UNREACHABLE"; exit 1; }
python "$here/check_ssh.py" faults --report "$base/bc/campaign.json" --cut-at "$(cat "$base/cut_at")" --lease 30 \
  --keeper-log "$(store_of 2)/keeper.log"

# What ssh2's keeper recorded, as cc_gateway_event_info reads it on ssh2 (logins allowed again).
mv "$base/home/ssh2/.ssh/authorized_keys.off" "$base/home/ssh2/.ssh/authorized_keys"
agents2=$(python -c 'import json; print(json.dumps([{"agent_id": a} for a in range(1002, 1031, 3)]))')
ansible ssh2 -i "$base/inventory.ini" -m cec.cc_gateway.cc_gateway_event_info \
  -a "{\"gateway_url\": \"$GATEWAY_URL\", \"session_dir\": \"$(store_of 2)\", \"agents\": $agents2}" >"$base/why.log" 2>&1 || {
  cat "$base/why.log"
  echo "c: cc_gateway_event_info failed on ssh2"
  exit 1
}
[ "$(grep -c '"session_end_reason": "keepalive_lease of 30 s ran out' "$base/why.log")" = 10 ] || {
  cat "$base/why.log"
  echo "c: cc_gateway_event_info does not give the lease as session_end_reason for each of ssh2's 10 agents"
  exit 1
}
echo "c: cc_gateway_event_info on ssh2 gives the lease's end as session_end_reason of each of its agents"

# Whatever the stores still keep, ended now with the playbook the guide names, given the campaign's module
# defaults: nothing is left to end.
python - "$base/vars_bc.json" "$base/signout.json" <<'PY'
import json, sys
variables = json.load(open(sys.argv[1]))
json.dump(
    {"cc_gateway_hosts": "cc_gateway_runners",
     "cc_gateway_module_defaults": variables["cc_gateway_campaign_module_defaults"]},
    open(sys.argv[2], "w"),
)
PY
ansible-playbook cec.cc_gateway.sign_out_kept -i "$base/inventory.ini" -e "@$base/signout.json" >"$base/signout.log" 2>&1 || {
  cat "$base/signout.log"
  echo "sign_out_kept failed"
  exit 1
}
if grep -E '"msg": "[1-9][0-9]* of' "$base/signout.log"; then
  echo "sign_out_kept found agents still signed in after the campaign and the lease"
  exit 1
fi
python "$here/check_ssh.py" nothing-live
