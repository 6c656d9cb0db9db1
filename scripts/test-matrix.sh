#!/usr/bin/env bash
# make test-matrix: ansible-test sanity + units + integration on every supported ansible-core.
#
#   scripts/test-matrix.sh [CORE ...]          CORE: 2.16 2.17 2.18 2.19 2.20 2.21 (default: all six)
#   MATRIX_STEPS="sanity units" scripts/test-matrix.sh 2.21
#   MATRIX_TARGETS="cc_gateway_record campaign" scripts/test-matrix.sh 2.16    only these integration targets
#   MATRIX_REF=HEAD scripts/test-matrix.sh     test a commit (a clone of it) instead of the work tree
#   MATRIX_MISSING=fail scripts/test-matrix.sh 2.16    a core without an interpreter fails (make test-oldest)
#   PYTHON_2_20=/usr/bin/python3.12 scripts/test-matrix.sh 2.20      this interpreter for that core
#
# Each core has its own virtual environment with the pinned test requirements (requirements.txt,
# requirements-test.txt without ansible-core and ansible-lint), its ansible-core pinned below, and the first
# interpreter found of its list:
#   2.16 -> .venv-2.16   python3.11, python3.12               ansible-core 2.16.19  (AAP 2.5)
#   2.17 -> .venv-2.17   python3.12, python3.11               ansible-core 2.17.14
#   2.18 -> .venv-2.18   python3.13, python3.12, python3.11   ansible-core 2.18.19
#   2.19 -> .venv-2.19   python3.11, python3.12, python3.13   ansible-core from requirements-test.txt
#   2.20 -> .venv-2.20   python3.12, python3.13, python3.14   ansible-core 2.20.10
#   2.21 -> .venv-2.21   python3.13, python3.12, python3.14   ansible-core 2.21.5
# The lists are the controller Pythons each core supports (2.16 and 2.17: 3.10-3.12, 2.18 and 2.19: 3.11-3.13,
# 2.20 and 2.21: 3.12-3.14), spread so that every interpreter runs under an old and a new core, minus 3.10: the
# pinned test requirements (hypothesis) need Python 3.11. ansible-lint is left out of these venvs: the matrix
# does not run it, and ansible-lint's releases refuse ansible-core 2.17.
# An interpreter is looked for by scripts/find-python.sh: on PATH, then in pyenv (`pyenv root`, $PYENV_ROOT,
# ~/.pyenv/versions/*/bin), and counts only if it runs. PYTHON_2_16 ... PYTHON_2_21 name another one
# (a path, or a name looked for the same way). A core none of whose interpreters is found is skipped, with a
# line saying so (and "skipped" in the summary): that is not a failure, unless MATRIX_MISSING=fail.
# The collection is laid out per core under .work/matrix-CORE/ansible_collections/cec/cc_gateway, so the
# runs do not disturb .work/ansible_collections. Integration tests run through scripts/run-integration.sh (the
# simulator on a free loopback port, run by the core's venv, which has the test requirements too); a run that
# shows ansible-core's warning that the collection does not support the core fails. ansible-test runs in the
# work home (scripts/work-home.sh: HOME inside the checkout) with --python of the core's venv; pip's cache is
# there too, so nothing is written outside the checkout.
# A summary with the time of every step ends the run; the exit code is non-zero when any step failed.
# Logs: .work/matrix-CORE/STEP.log.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# One work home for every core, also when MATRIX_REF tests a throw-away clone (its sanity venvs are kept).
export CC_GATEWAY_WORK_HOME=${CC_GATEWAY_WORK_HOME:-$root/.work/home}

# Interpreters each core may run on, preferred first (the controller Pythons ansible-core supports).
declare -A PYTHONS=(
  [2.16]="python3.11 python3.12"
  [2.17]="python3.12 python3.11"
  [2.18]="python3.13 python3.12 python3.11"
  [2.19]="python3.11 python3.12 python3.13"
  [2.20]="python3.12 python3.13 python3.14"
  [2.21]="python3.13 python3.12 python3.14"
)
declare -A CORE_PIN=([2.16]=2.16.19 [2.17]=2.17.14 [2.18]=2.18.19 [2.19]="" [2.20]=2.20.10 [2.21]=2.21.5)
all_cores=(2.16 2.17 2.18 2.19 2.20 2.21)
# Sanity tests of a core that do not apply to this collection: skipped (--skip-test), and named in the summary.
# ansible-core 2.16 still ships modules to Python 2.7 and checks their Python 2 boilerplate (`from __future__
# import absolute_import, division, print_function`, `__metaclass__ = type`); the collection's modules need
# Python 3.9 (README), and 2.17 and later no longer have these tests.
declare -A SANITY_SKIP=([2.16]="future-import-boilerplate metaclass-boilerplate")
declare -A VENV=()
for core in "${all_cores[@]}"; do
  VENV[$core]=.venv-$core
  # Overridable, e.g. PYTHON_2_20=/usr/bin/python3.12 on a machine where python3.12 is elsewhere.
  override=PYTHON_${core//./_}
  PYTHONS[$core]=${!override:-${PYTHONS[$core]}}
done
# pip (making the venvs) and ansible-test keep their downloads in the work home, not in the user's home.
export PIP_CACHE_DIR=$CC_GATEWAY_WORK_HOME/.cache/pip PIP_DISABLE_PIP_VERSION_CHECK=1

cores=("$@")
[ ${#cores[@]} -gt 0 ] || cores=("${all_cores[@]}")
read -r -a steps <<<"${MATRIX_STEPS:-sanity units integration}"
read -r -a targets <<<"${MATRIX_TARGETS:-}"
summary=()
failed=0

say() { printf '\n== %s\n' "$*"; }
# pip's notes about the (absent) local mirror directories are noise.
quiet_pip() { "$@" 2>&1 | grep -v -e "is ignored: it is neither a file nor a directory" || true; }

make_venv() {
  local core=$1 venv=${VENV[$1]} python=$2 pin=${CORE_PIN[$1]}
  [ -n "$pin" ] || pin=$(sed -n 's/^ansible-core==//p' requirements-test.txt)
  # Made again when the requirements, the pin or the interpreter change.
  local stamp
  stamp=$(cat requirements.txt requirements-test.txt <(echo "$pin $python without ansible-lint") | sha256sum | cut -c1-16)
  if [ -f "$venv/.installed" ] && [ "$(cat "$venv/.installed")" = "$stamp" ]; then
    return
  fi
  rm -rf "$venv"
  "$python" -m venv "$venv" || return 1
  quiet_pip "$venv/bin/python" -m pip install --quiet --upgrade pip
  grep -v -e '^ansible-core==' -e '^ansible-lint==' requirements-test.txt >"$venv/requirements-test.txt"
  quiet_pip "$venv/bin/python" -m pip install --quiet "ansible-core==$pin" \
    -r requirements.txt -r "$venv/requirements-test.txt"
  local version
  version=$(in_work_home "$venv/bin/ansible" --version) || return 1
  [[ $version == *"core $pin"* ]] || {
    echo "ansible-core $pin did not install in $venv"
    return 1
  }
  echo "$stamp" >"$venv/.installed"
}

# scripts/run-integration.sh owns how the simulator is started for the integration targets.
run_integration() {
  ANSIBLE_TEST_PYTHON=$2 "$src/scripts/run-integration.sh" "$1" ${targets[@]+"${targets[@]}"}
}

# ansible-test in the work home of this checkout (HOME inside it, the get-pip stand-in in its cache).
in_work_home() {
  "$root/scripts/work-home.sh" "$@"
}

run_core() {
  local core=$1 venv=${VENV[$1]} work="$root/.work/matrix-$1" collection pyver start rc step python skip test
  # shellcheck disable=SC2086 # a list of names
  if ! python=$("$root/scripts/find-python.sh" ${PYTHONS[$core]}); then
    say "ansible-core $core: skipped, no interpreter found (looked for ${PYTHONS[$core]} on PATH and in pyenv)"
    if [ "${MATRIX_MISSING:-skip}" = fail ]; then
      summary+=("$core FAILED: none of ${PYTHONS[$core]} found (PYTHON_${core//./_}=... names one)")
      failed=1
    else
      summary+=("$core skipped: none of ${PYTHONS[$core]} found (PYTHON_${core//./_}=... names one)")
    fi
    return
  fi
  say "ansible-core $core: virtual environment $venv ($python)"
  start=$SECONDS
  if ! make_venv "$core" "$python"; then
    summary+=("$core venv FAILED")
    failed=1
    return
  fi
  pyver=$("$root/$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  local version
  version=$(in_work_home "$root/$venv/bin/ansible" --version)
  summary+=("$core venv ok ($(("$SECONDS" - start)) s): ${version%%$'\n'*}, python $pyver ($python)")
  # The core's own tools first on PATH; the collection copy of this core is the only one Ansible sees.
  export PATH="$root/$venv/bin:$ORIGINAL_PATH"
  export ANSIBLE_COLLECTIONS_PATH=$work
  export PYTHONPATH=$src/simulator
  rm -rf "$work"
  collection=$(cd "$src" && "$root/scripts/collection-tree.sh" "$work") ||
    { summary+=("$core collection FAILED"); failed=1; return; }
  for step in "${steps[@]}"; do
    say "ansible-core $core (python $pyver): ansible-test $step"
    start=$SECONDS
    case $step in
      sanity)
        skip=()
        for test in ${SANITY_SKIP[$core]:-}; do
          skip+=(--skip-test "$test")
        done
        (cd "$collection" && rm -rf tests/output &&
          in_work_home ansible-test sanity --local --requirements --python "$pyver" --color no ${skip[@]+"${skip[@]}"}) 2>&1 |
          tee "$work/$step.log"
        ;;
      units)
        (cd "$collection" &&
          in_work_home ansible-test units --local --requirements --python "$pyver" --color no) 2>&1 |
          tee "$work/$step.log"
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
    # ansible-core warns on every run when meta/runtime.yml's requires_ansible leaves its version out.
    if [ "$rc" -eq 0 ] && [ "$step" = integration ] &&
      grep -q "cec.cc_gateway does not support" "$work/$step.log"; then
      echo "ansible-core $core warned that cec.cc_gateway does not support it (meta/runtime.yml requires_ansible)"
      rc=1
    fi
    local note=
    if [ "$step" = sanity ] && [ -n "${SANITY_SKIP[$core]:-}" ]; then
      note=", skipped: ${SANITY_SKIP[$core]}"
    fi
    if [ "$rc" -eq 0 ]; then
      summary+=("$core $step passed ($(("$SECONDS" - start)) s$note)")
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
  mkdir -p "$root/.work"
  src=$(mktemp -d "$root/.work/matrix-ref.XXXXXX")
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
