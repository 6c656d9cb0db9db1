#!/usr/bin/env bash
# The role cec.cc_gateway.campaign, run as users run it (the playbook cec.cc_gateway.campaign, an inventory of
# runner hosts, -e @vars), on four local runners, each with a session store (and session keeper) of its own,
# against the simulator in dynamic authentication with a 3 s heartbeat limit and a new GUID every second:
#   1. 200 agents held 5 s, past the heartbeat limit: all pass; the report's missing directory is made (0700);
#   2. 21 agents of which six fail, one at each step (wrong passwords and an agent the gateway does not know at
#      sign-in, a failed recording at start, an agent forced out during the hold at the check, a gateway fault at
#      stop): the others complete, the reports name the six with step and reason, the play fails; an agent whose
#      session ends while its start is on the way is signed in again and passes, and the report says so; at -vvv,
#      and no password appears in the output or the reports;
#   3. two slices of a sliced job (--limit, the complete runner list given): every agent exactly once;
#   4. check mode with a runner missing from the runner list, with an agent listed twice, with an agent id out of
#      range and a lease shorter than the hold: refused clearly, nothing is sent; a report directory that cannot be
#      made fails every runner before any sign-in, and so does a recordings' directory that cannot be made on the
#      runners (or a relative one); an empty campaign is a clean run that sends nothing;
#   5. a runner that breaks off at the hold (its Python is missing, so the controller cannot reach it again): its
#      agents are reported at step "runner" with the reason and still signed out, the other runner's agents pass,
#      the play fails;
#   6. eight agents with cc_gateway_campaign_recordings_dir: each runner fetches its agents' recordings after the
#      stop into the directory it made (0700), one 0600 file per agent; the reports give each file's size and
#      SHA-256 (those of the file on disk and of the simulator's file) and the recording's begin and end; the
#      simulator saw one download per agent; an agent whose download the gateway refuses (104-005) and one whose
#      file comes empty fail at step fetch with the reason, the play fails.
# check_campaign.py checks the simulator's own record (its admin API) and parses both reports of every run.
set -euo pipefail
# The simulator of scripts/run-integration.sh is named and answers (needs/target/setup_simulator), or say so.
ansible-playbook ../setup_simulator/check.yml
# Temporary files inside the checkout, not in /tmp.
# shellcheck source=../setup_simulator/tmpdir.sh
. ../setup_simulator/tmpdir.sh
config=../../integration_config.yml
GATEWAY_URL=$(sed -n 's/^cc_gateway_url: //p' "$config")
GATEWAY_CA=$(sed -n 's/^cc_gateway_ca: //p' "$config")
export GATEWAY_URL GATEWAY_CA
here=$(pwd)
work=$(mktemp -d)
forcer=
loser=
sim() { curl --silent --show-error --fail --cacert "$GATEWAY_CA" "$@"; }
cleanup() {
  status=$?
  if [ "$status" != 0 ]; then
    # What the keepers saw, for a failure that is theirs.
    for log in "$work"/sessions/*/keeper.log; do
      [ -f "$log" ] && { echo "== $log"; grep -v -e 'released agent' "$log" | tail -80; }
    done
  fi
  if [ -n "$forcer" ]; then kill "$forcer" 2>/dev/null || true; fi
  if [ -n "$loser" ]; then kill "$loser" 2>/dev/null || true; fi
  sim -X POST "$GATEWAY_URL/_sim/reset" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
reset() {
  sim -X POST "$GATEWAY_URL/_sim/reset" -H 'Content-Type: application/json' \
    -d '{"config": {"auth_mode": 2, "heartbeat_timeout": 3, "guid_interval_ms": 1000, "guid_timeout_ms": 2000, "poll_hold": 0.5}}' >/dev/null
}
fault() {
  sim -X POST "$GATEWAY_URL/_sim/faults" -H 'Content-Type: application/json' -d "$1" >/dev/null
}
check() { python "$here/check_campaign.py" "$@"; }
# A run refused before anything was sent: its log (work/NAME.log) says why (grep pattern), and each of the four
# runners says it signed nothing in.
refused_by_every_runner() {  # NAME PATTERN WHAT
  grep -q "$2" "$work/$1.log" || { echo "run 4: $3 was not refused clearly"; exit 1; }
  [ "$(grep -c "Nothing was signed in by this runner" "$work/$1.log")" -ge 4 ] || {
    echo "run 4: not every runner failed before signing in for $3"
    exit 1
  }
}

for agent in 2001 2220; do
  sim -o /dev/null "$GATEWAY_URL/_sim/agents/$agent" || {
    echo "The simulator does not know agent $agent: this target needs agents 2001-2220 (scripts/run-integration.sh --agents)."
    exit 1
  }
done

runners=runner1,runner2,runner3,runner4
cat >"$work/inventory.ini" <<EOF
[cc_gateway_runners]
runner1 runner_session_dir=$work/sessions/runner1
runner2 runner_session_dir=$work/sessions/runner2
runner3 runner_session_dir=$work/sessions/runner3
runner4 runner_session_dir=$work/sessions/runner4

[cc_gateway_runners:vars]
ansible_connection=local
ansible_python_interpreter="{{ ansible_playbook_python }}"
EOF

# vars <file> <agents, e.g. 2001-2200> <hold> <report> [agents with a wrong password]
vars() {
  python - "$@" <<'PY'
import json, sys
path, spec, hold, report = sys.argv[1:5]
wrong = [int(agent) for agent in sys.argv[5:]]
agents = []
for part in spec.split(","):
    first, _, last = part.partition("-")
    for agent in range(int(first), int(last or first) + 1):
        entry = {"agent_id": agent, "phone_number": f"70{agent}"}
        if agent in wrong:
            entry["password"] = "Wrong-Pass-4321"
        agents.append(entry)
variables = {
    "cc_gateway_campaign_module_defaults": {
        "gateway_url": "{{ lookup('ansible.builtin.env', 'GATEWAY_URL') }}",
        "ca_path": "{{ lookup('ansible.builtin.env', 'GATEWAY_CA') }}",
        "session_dir": "{{ runner_session_dir }}",
        "password": "Demo-1234",
        "timeout": 10,
        "max_concurrency": 25,
    },
    "cc_gateway_campaign_agents": agents,
    "cc_gateway_campaign_hold": int(hold),
    "cc_gateway_campaign_report": report,
}
with open(path, "w", encoding="utf-8") as out:
    json.dump(variables, out)
PY
}

# campaign <name> <expected exit code> [ansible-playbook arguments]: output in $work/<name>.log; the inventory
# is $work/inventory.ini unless $inventory names another.
campaign() {
  local name=$1 expected=$2 rc=0
  shift 2
  ansible-playbook cec.cc_gateway.campaign -i "${inventory:-$work/inventory.ini}" --forks 8 "$@" >"$work/$name.log" 2>&1 || rc=$?
  sed -n '/^PLAY RECAP/,$p' "$work/$name.log"
  if [ "$rc" != "$expected" ]; then
    tail -n 100 "$work/$name.log"
    echo "$name: ansible-playbook exited with $rc, expected $expected"
    exit 1
  fi
}
no_keeper_left() {
  if pgrep -f "_state.keeper import main.* -- --store $work/sessions/" >/dev/null; then
    echo "$1: a session keeper still runs after the campaign: $(pgrep -af "_state.keeper import main.* -- --store $work/sessions/")"
    exit 1
  fi
}

echo "== 1. 200 agents on four runners, held past the heartbeat limit"
reset
# The report's directory does not exist: the role makes it, owner-only, before anything is signed in.
vars "$work/vars1.json" 2001-2200 5 "$work/run1/reports/campaign.json"
SECONDS=0
campaign passing 0 -e "@$work/vars1.json" "$@"
echo "ansible-playbook took $SECONDS s"
check passing --agents 2001-2200 --runners "$runners" --report "$work/run1/reports/campaign.json" --hold 5 --heartbeat 3
for dir in "$work/run1" "$work/run1/reports"; do
  [ "$(stat -c %a "$dir")" = 700 ] || { echo "run 1: the role made $dir with mode $(stat -c %a "$dir"), not 700"; exit 1; }
done
no_keeper_left "run 1"

echo "== 2. Six agents fail, one or more at each step; the others complete and the play fails"
reset
fault '{"kind": "record_fail", "method": "PUT", "path": "recordplay/2210/record$"}'
fault '{"kind": "http_status", "status": 503, "method": "DELETE", "path": "recordplay/2216/stoprecord$"}'
check force-out --agents 2213 >"$work/forced.txt" &
forcer=$!
# The start of 2205 is held 4 s by the gateway, long enough for lose-session to end its session meanwhile.
fault '{"kind": "latency", "delay": 4, "method": "PUT", "path": "recordplay/2205/record$"}'
check lose-session --agents 2205 >"$work/lost.txt" &
loser=$!
mkdir -p "$work/run2"
# The report path without .json: the JUnit XML report is then <path>.xml.
vars "$work/vars2.json" 2201-2220,59001 4 "$work/run2/campaign" 2203 2207
campaign failing 2 -vvv -e "@$work/vars2.json" "$@"
wait "$forcer"
forcer=
wait "$loser"
loser=
grep -q "ended while its start was on the way" "$work/lost.txt" || {
  cat "$work/lost.txt"
  echo "run 2: agent 2205's session was not ended before its start, so signing in again was not tested"
  exit 1
}
grep -q "signed in elsewhere while recording" "$work/forced.txt" || {
  cat "$work/forced.txt"
  echo "run 2: agent 2213 was not forced out during the hold, so the check step was not tested"
  exit 1
}
check failing --agents 2201-2220,59001 --runners "$runners" --report "$work/run2/campaign" --hold 4 --heartbeat 3
for runner in runner1 runner2 runner3 runner4; do
  grep -q "agents of $runner failed: agent " "$work/failing.log" || { echo "run 2: $runner did not fail naming its failed agents"; exit 1; }
done
for secret in Demo-1234 Wrong-Pass-4321; do
  for file in "$work/failing.log" "$work/run2/campaign" "$work/run2/campaign.xml"; do
    if grep -qF -- "$secret" "$file"; then
      echo "run 2: a password appears in $(basename "$file")"
      exit 1
    fi
  done
done
echo "no password in $(wc -c <"$work/failing.log") bytes of -vvv output or in the reports"
no_keeper_left "run 2"

echo "== 3. A job in two slices, each with half the runners and the complete runner list"
reset
vars "$work/vars3.json" 2001-2040 0 ""
campaign slice1 0 --limit runner1,runner2 -e "@$work/vars3.json" -e '{"cc_gateway_campaign_runners": ["runner1", "runner2", "runner3", "runner4"]}' \
  -e "cc_gateway_campaign_report=$work/slice1.json" "$@"
# The second slice gets the runner list as a comma-separated string, as -e key=value gives it.
campaign slice2 0 --limit runner3,runner4 -e "@$work/vars3.json" -e "cc_gateway_campaign_runners=runner4,runner3,runner2,runner1" \
  -e "cc_gateway_campaign_report=$work/slice2.json" "$@"
check slices --agents 2001-2040 --runners "$runners" --report "$work/slice1.json" --report "$work/slice2.json"
no_keeper_left "run 3"

echo "== 4. Refused before anything is sent: runner4 missing from the runner list, an agent listed twice, bad settings, a report or recordings directory that cannot be made; an empty campaign"
reset
campaign checkmode 2 --check -e "@$work/vars3.json" -e '{"cc_gateway_campaign_runners": ["runner3", "runner1", "runner2"]}' "$@"
grep -q "Runner runner4 is not in cc_gateway_campaign_runners (runner1, runner2, runner3)" "$work/checkmode.log" || {
  echo "run 4: runner4's failure does not say it is missing from the runner list"
  exit 1
}
grep -q "runner2 would run 13 of the 40 agents (runner 2 of 3)" "$work/checkmode.log" || {
  echo "run 4: runner2 did not show its share"
  exit 1
}
check untouched
campaign duplicate 2 --check -e "@$work/vars3.json" \
  -e '{"cc_gateway_campaign_agents": [{"agent_id": 2001}, {"agent_id": 2002}, {"agent_id": 2001}]}' "$@"
grep -q "cc_gateway_campaign_agents lists agents 2001 more than once" "$work/duplicate.log" || {
  echo "run 4: an agent listed twice was not refused"
  exit 1
}
check untouched
campaign settings 2 --check -e "@$work/vars3.json" -e cc_gateway_campaign_hold=20 -e cc_gateway_campaign_lease=15 \
  -e cc_gateway_campaign_recordings_dir=recordings \
  -e '{"cc_gateway_campaign_agents": [{"agent_id": 2001}, {"agent_id": 60000}, {"agent_id": 100}]}' "$@"
for text in "agent_id must be from 101 to 59999 (cc_gateway_campaign_max_agent_id), not 100, 60000" \
  "cc_gateway_campaign_lease (15 s) is shorter than the hold plus the wait for the confirmations (50.0 s)" \
  "cc_gateway_campaign_recordings_dir recordings is a relative path"; do
  grep -qF "$text" "$work/settings.log" || { echo "run 4: the settings were not refused with: $text"; exit 1; }
done
check untouched
# A report directory that cannot be made (below a regular file; even root cannot): every runner fails before
# anything is sent.
touch "$work/not-a-directory"
campaign nodir 2 -e "@$work/vars3.json" -e "cc_gateway_campaign_report=$work/not-a-directory/reports/campaign.json" "$@"
refused_by_every_runner nodir "its directory $work/not-a-directory/reports is missing and could not be made" \
  "a report directory that cannot be made"
check untouched
# The same for a recordings' directory that cannot be made on the runners (below a regular file), or is a file.
campaign norecdir 2 -e "@$work/vars3.json" -e "cc_gateway_campaign_recordings_dir=$work/not-a-directory/recordings" "$@"
refused_by_every_runner norecdir \
  "cc_gateway_campaign_recordings_dir $work/not-a-directory/recordings on runner1: it cannot be looked at: Not a directory; runner2: " \
  "a recordings' directory that cannot be made"
check untouched
campaign notrecdir 2 -e "@$work/vars3.json" -e "cc_gateway_campaign_recordings_dir=$work/not-a-directory" "$@"
grep -q "cc_gateway_campaign_recordings_dir $work/not-a-directory on runner1: it is not a directory; runner2: " "$work/notrecdir.log" || {
  echo "run 4: a recordings' directory that is a regular file was not refused clearly"
  exit 1
}
check untouched
# An empty campaign (an empty share of a list that was filtered away, say): a clean run that sends nothing.
campaign empty 0 -e "@$work/vars3.json" -e '{"cc_gateway_campaign_agents": []}' -e "cc_gateway_campaign_report=$work/empty.json" "$@"
check empty --runners "$runners" --report "$work/empty.json"

echo "== 5. A runner breaks off at the hold"
reset
cat >"$work/broken.ini" <<EOF
[cc_gateway_runners]
runner1 runner_session_dir=$work/sessions/runner1
runner5 runner_session_dir=$work/sessions/runner5 ansible_python_interpreter=$work/no-such-python

[cc_gateway_runners:vars]
ansible_connection=local
ansible_python_interpreter="{{ ansible_playbook_python }}"
EOF
vars "$work/vars5.json" 2001-2010 1 "$work/broken.json"
inventory=$work/broken.ini campaign broken 2 -e "@$work/vars5.json" -e cc_gateway_campaign_reconnect_timeout=2 "$@"
check broken --agents 2001-2010 --runners runner1,runner5 --report "$work/broken.json"
no_keeper_left "run 5"

echo "== 6. Every agent's recording fetched into cc_gateway_campaign_recordings_dir; two downloads fail"
reset
# 2003: the gateway refuses the download (104-005); 2006: its answer is an empty file.
fault '{"kind": "retcode", "retcode": "104-005", "message": "recording file does not exist", "method": "GET", "path": "recordfile/2003$"}'
fault '{"kind": "body", "status": 200, "body": "", "content_type": "application/octet-stream", "method": "GET", "path": "recordfile/2006$"}'
vars "$work/vars6.json" 2001-2008 1 "$work/run6/campaign.json"
# The directory does not exist (given with a trailing slash): the runners make it, owner-only.
campaign recordings 2 -e "@$work/vars6.json" -e "cc_gateway_campaign_recordings_dir=$work/run6/recordings/" "$@"
check recordings --agents 2001-2008 --runners "$runners" --report "$work/run6/campaign.json" --hold 1 --dir "$work/run6/recordings"
no_keeper_left "run 6"
