#!/usr/bin/env bash
# make test-matrix: ansible-test sanity + units + integration on every supported ansible-core.
#
#   scripts/test-matrix.sh [CORE ...]          CORE: 2.19 2.20 2.21 (default: all three)
#   MATRIX_STEPS="sanity units" scripts/test-matrix.sh 2.21
#   MATRIX_REF=HEAD scripts/test-matrix.sh     test a commit (a clone of it) instead of the work tree
#
# Each core has its own virtual environment with the pinned test requirements (requirements.txt,
# requirements-test.txt) and its ansible-core pinned below:
#   2.19 -> .venv        (python3.11, the one `make venv` builds, ansible-core from requirements-test.txt)
#   2.20 -> .venv-2.20   (Python 3.12, ansible-core 2.20.10)
#   2.21 -> .venv-2.21   (Python 3.13, ansible-core 2.21.5)
# The collection is laid out per core under .work/matrix-CORE/ansible_collections/cec/cc_gateway, so the
# runs do not disturb .work/ansible_collections. Integration tests run through scripts/run-integration.sh (the
# simulator on a free loopback port, run by the core's venv, which has the test requirements too). A summary with the time of every step ends the run;
# the exit code is non-zero when any step failed. Logs: .work/matrix-CORE/STEP.log.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

declare -A PYTHON=(
  [2.19]=python3.11
  [2.20]=/root/.pyenv/versions/3.12.1/bin/python3.12
  [2.21]=/root/.pyenv/versions/3.13.0/bin/python3.13
)
declare -A CORE_PIN=([2.19]="" [2.20]=2.20.10 [2.21]=2.21.5)
declare -A VENV=([2.19]=.venv [2.20]=.venv-2.20 [2.21]=.venv-2.21)
# Overridable, e.g. PYTHON_2_20=/usr/bin/python3.12 on a machine without pyenv.
PYTHON[2.20]=${PYTHON_2_20:-${PYTHON[2.20]}}
PYTHON[2.21]=${PYTHON_2_21:-${PYTHON[2.21]}}

cores=("$@")
[ ${#cores[@]} -gt 0 ] || cores=(2.19 2.20 2.21)
read -r -a steps <<<"${MATRIX_STEPS:-sanity units integration}"
summary=()
failed=0

say() { printf '\n== %s\n' "$*"; }
# pip's notes about the (absent) local mirror directories are noise.
quiet_pip() { "$@" 2>&1 | grep -v -e "is ignored: it is neither a file nor a directory" || true; }

make_venv() {
  local core=$1 venv=${VENV[$1]} python=${PYTHON[$1]} pin=${CORE_PIN[$1]}
  if [ "$core" = 2.19 ]; then
    make -s venv >/dev/null
    return
  fi
  # Rebuilt when the requirements or the pin change.
  local stamp
  stamp=$(cat requirements.txt requirements-test.txt <(echo "$pin") | sha256sum | cut -c1-16)
  if [ -f "$venv/.installed" ] && [ "$(cat "$venv/.installed")" = "$stamp" ]; then
    return
  fi
  [ -x "$python" ] || command -v "$python" >/dev/null || {
    echo "no $python for ansible-core $core"
    return 1
  }
  rm -rf "$venv"
  "$python" -m venv "$venv" || return 1
  quiet_pip "$venv/bin/python" -m pip install --quiet --upgrade pip
  grep -v '^ansible-core==' requirements-test.txt >"$venv/requirements-test.txt"
  quiet_pip "$venv/bin/python" -m pip install --quiet "ansible-core==$pin" \
    -r requirements.txt -r "$venv/requirements-test.txt"
  local version
  version=$("$venv/bin/ansible" --version) || return 1
  [[ $version == *"core $pin"* ]] || {
    echo "ansible-core $pin did not install in $venv"
    return 1
  }
  echo "$stamp" >"$venv/.installed"
}

# ansible-test downloads get-pip-<its pip version>.py from a host we cannot reach unless the cache holds a
# stand-in (scripts/get_pip_standin.py). The pip version differs per core (2.19: 24.2, 2.20/2.21: 25.2).
install_get_pip_standin() {
  local venv=$1 version
  version=$("$venv/bin/python" - <<'PY'
import re
from pathlib import Path

import ansible_test

source = Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", source.read_text()).group(1))
PY
  ) || return 1
  mkdir -p "$HOME/.ansible/test/cache"
  cp scripts/get_pip_standin.py "$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
}

# scripts/run-integration.sh owns how the simulator is started for the integration targets.
run_integration() {
  ANSIBLE_TEST_PYTHON=$2 "$src/scripts/run-integration.sh" "$1"
}

run_core() {
  local core=$1 venv=${VENV[$1]} work="$root/.work/matrix-$1" collection pyver start rc step
  say "ansible-core $core: virtual environment $venv"
  start=$SECONDS
  if ! make_venv "$core"; then
    summary+=("$core venv FAILED")
    failed=1
    return
  fi
  pyver=$("$root/$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  local version
  version=$("$root/$venv/bin/ansible" --version)
  summary+=("$core venv ok ($(("$SECONDS" - start)) s): ${version%%$'\n'*}, python $pyver")
  # The core's own tools first on PATH; the collection copy of this core is the only one Ansible sees.
  export PATH="$root/$venv/bin:$ORIGINAL_PATH"
  export ANSIBLE_COLLECTIONS_PATH=$work
  export PYTHONPATH=$src/simulator
  install_get_pip_standin "$root/$venv" || { summary+=("$core get-pip stand-in FAILED"); failed=1; return; }
  rm -rf "$work"
  collection=$(cd "$src" && "$root/scripts/collection-tree.sh" "$work") ||
    { summary+=("$core collection FAILED"); failed=1; return; }
  for step in "${steps[@]}"; do
    say "ansible-core $core (python $pyver): ansible-test $step"
    start=$SECONDS
    case $step in
      sanity)
        (cd "$collection" && rm -rf tests/output &&
          ansible-test sanity --local --requirements --python "$pyver" --color no) 2>&1 | tee "$work/$step.log"
        ;;
      units)
        (cd "$collection" &&
          ansible-test units --local --requirements --python "$pyver" --color no) 2>&1 | tee "$work/$step.log"
        ;;
      integration)
        run_integration "$collection" "$pyver" 2>&1 | tee "$work/$step.log"
        ;;
      *)
        echo "unknown step $step"
        false
        ;;
    esac
    rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 0 ]; then
      summary+=("$core $step passed ($(("$SECONDS" - start)) s)")
    else
      summary+=("$core $step FAILED rc=$rc ($(("$SECONDS" - start)) s), log $work/$step.log")
      failed=1
    fi
  done
}

ORIGINAL_PATH=$PATH
total=$SECONDS
# What is tested: the git-tracked files of the work tree (as make test does), or those of MATRIX_REF, from a
# throw-away clone (stable while others keep editing the work tree).
src=$root
if [ -n "${MATRIX_REF:-}" ]; then
  src=$(mktemp -d)
  trap 'rm -rf "$src"' EXIT
  git clone -q "$root" "$src"
  git -C "$src" checkout -q --detach "$MATRIX_REF"
  summary+=("testing $(git -C "$src" log -1 --format='%h %s') (MATRIX_REF=$MATRIX_REF)")
else
  summary+=("testing the work tree's tracked files")
fi
for core in "${cores[@]}"; do
  if [ -z "${VENV[$core]:-}" ]; then
    echo "unknown ansible-core $core (known: ${!VENV[*]})"
    exit 2
  fi
  run_core "$core"
done

say "test-matrix summary ($(("$SECONDS" - total)) s)"
printf '  %s\n' "${summary[@]}"
exit $failed
