#!/usr/bin/env bash
# Run a command with a home directory inside the checkout, so that tests and tools write nothing into the
# user's own home (~/.ansible, ~/.cache, ...).
#
#   scripts/work-home.sh COMMAND [ARG ...]      run COMMAND there
#   . scripts/work-home.sh                      (in a bash script) the same environment for the rest of it
#
# The home is $CC_GATEWAY_WORK_HOME, by default .work/home of this checkout (make clean removes it). It gets:
#   - HOME, and the XDG cache/config/data/state directories below it (ansible-lint's cache, the collection's
#     session directory ~/.cache/cec.cc_gateway, ...); ANSIBLE_HOME, ANSIBLE_LOCAL_TEMP and ANSIBLE_REMOTE_TMP
#     (~/.ansible), PIP_CACHE_DIR, and TMPDIR (~/tmp). ansible-test passes only HOME on to what it runs, so HOME
#     itself must move (and scripts/run-integration.sh sets remote_tmp in the configuration ansible-test gives
#     Ansible).
#   - ansible-test's offline pip bootstrap: ansible-test downloads get-pip-<pip version>.py from a host these
#     machines may not reach unless ~/.ansible/test/cache holds it; scripts/get_pip_standin.py stands in.
#   - the user's pip configuration (read, never written): ~/.config/pip/pip.conf and ~/.pip/pip.conf are copied
#     in, so that the pip runs of ansible-test use the same index, mirrors and certificates as the user's pip.
# The venvs are not made here: `make venv` and the scripts use the user's pip, its configuration and cache.

_work_home_setup() {
  local here root home real_home config version
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  root=$(cd "$here/.." && pwd)
  home=${CC_GATEWAY_WORK_HOME:-$root/.work/home}
  real_home=${HOME:-}
  mkdir -p "$home/.ansible/test/cache" "$home/.ansible/tmp" "$home/.cache" "$home/.config/pip" \
    "$home/.local/share" "$home/.local/state" "$home/.pip" || return 1
  home=$(cd "$home" && pwd)

  if [ -n "$real_home" ] && [ "$real_home" != "$home" ]; then
    for config in "${XDG_CONFIG_HOME:-$real_home/.config}/pip/pip.conf:.config/pip/pip.conf" \
      "$real_home/.pip/pip.conf:.pip/pip.conf"; do
      if [ -f "${config%%:*}" ]; then
        cp "${config%%:*}" "$home/${config##*:}" || return 1
      else
        rm -f "$home/${config##*:}"
      fi
    done
  fi

  # 24.2 is what ansible-core 2.19 asks for, 25.2 what 2.20 and 2.21 ask for; the version of the ansible-test
  # on PATH is added, whatever it is.
  for version in 24.2 25.2 $(_work_home_ansible_test_pip); do
    cp "$here/get_pip_standin.py" "$home/.ansible/test/cache/get_pip_${version//./_}.py" || return 1
  done

  export HOME=$home
  export XDG_CACHE_HOME=$home/.cache XDG_CONFIG_HOME=$home/.config XDG_DATA_HOME=$home/.local/share
  export XDG_STATE_HOME=$home/.local/state
  export ANSIBLE_HOME=$home/.ansible ANSIBLE_LOCAL_TEMP=$home/.ansible/tmp
  # Ansible's remote_tmp defaults to ~USER/.ansible/tmp, USER's home from the password database, not $HOME:
  # even on localhost it would make its module directories in the user's own home.
  export ANSIBLE_REMOTE_TMP=$home/.ansible/tmp
  export PIP_CACHE_DIR=$home/.cache/pip
  # Temporary files (mktemp, Python's tempfile, pytest) stay in the checkout too.
  mkdir -p "$home/tmp" || return 1
  export TMPDIR=$home/tmp
  export CC_GATEWAY_WORK_HOME=$home
}

# The pip version the ansible-test on PATH bootstraps (from its python_requirements.py), if there is one.
_work_home_ansible_test_pip() {
  local ansible_test python
  ansible_test=$(command -v ansible-test 2>/dev/null) || return 0
  python=$(dirname "$ansible_test")/python
  [ -x "$python" ] || python=python
  "$python" - 2>/dev/null <<'PY' || true
import re
from pathlib import Path

import ansible_test

source = Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
match = re.search(r"pip='([0-9.]+)'", source.read_text())
if match:
    print(match.group(1))
PY
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  # Sourced: the calling script goes on in the work home.
  _work_home_setup || return 1
else
  set -euo pipefail
  [ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG ...]" >&2; exit 2; }
  _work_home_setup
  exec "$@"
fi
