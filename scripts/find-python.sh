#!/usr/bin/env bash
# Find a Python interpreter that works, and print its path (sys.executable); exit 1, printing nothing, if none.
#
#   scripts/find-python.sh NAME [NAME ...]      e.g. python3, python3.12, /usr/bin/python3.13
#
# Each NAME in turn, first match wins:
#   - a NAME with a slash is taken as it is;
#   - else every NAME on PATH, in PATH order;
#   - else NAME in the versions of pyenv, if pyenv is there: the roots `pyenv root`, $PYENV_ROOT and
#     ~/.pyenv, each ROOT/versions/*/bin/NAME, newest version first.
# A candidate counts only if it runs and, for a NAME like python3.12, is that version: a pyenv shim on PATH
# for a version pyenv does not select ("command not found") is skipped, and the search goes on. On PATH and in
# pyenv the interpreter of a virtual environment is passed over too (make puts its own venv first on PATH, and
# venvs are made from a base interpreter); a path given as NAME is taken even if it is one.
set -uo pipefail

# Prints "X.Y VENV sys.executable" of a working interpreter (VENV 1 in a virtual environment, else 0), or fails.
probe() {
  [ -x "$1" ] && [ ! -d "$1" ] || return 1
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2], int(sys.prefix != sys.base_prefix), sys.executable)' \
    2>/dev/null
}

# A candidate for NAME: it runs, it is the version NAME names (pythonX.Y), if NAME names one, and it is not in a
# virtual environment unless NAME is a path.
try() {
  local name=$1 candidate=$2 found version in_venv executable
  found=$(probe "$candidate") || return 1
  IFS=" " read -r version in_venv executable <<<"$found"
  if [[ $name =~ ^python([0-9]+\.[0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" != "$version" ]; then
    return 1
  fi
  if [[ $name != */* ]] && [ "$in_venv" = 1 ]; then
    return 1
  fi
  # sys.executable is empty when Python cannot tell; the candidate itself is then the answer.
  echo "${executable:-$candidate}"
}

pyenv_roots() {
  local root
  if command -v pyenv >/dev/null 2>&1; then
    root=$(pyenv root 2>/dev/null) && [ -n "$root" ] && echo "$root"
  fi
  [ -n "${PYENV_ROOT:-}" ] && echo "$PYENV_ROOT"
  [ -n "${HOME:-}" ] && echo "$HOME/.pyenv"
}

find_one() {
  local name=$1 dir root candidate
  if [[ $name == */* ]]; then
    try "$name" "$name"
    return
  fi
  local IFS=:
  for dir in $PATH; do
    try "$name" "${dir:-.}/$name" && return 0
  done
  unset IFS
  while read -r root; do
    [ -d "$root/versions" ] || continue
    while read -r candidate; do
      try "$name" "$candidate" && return 0
    done < <(printf '%s\n' "$root"/versions/*/bin/"$name" | sort -r -V)
  done < <(pyenv_roots | awk '!seen[$0]++')
  return 1
}

[ $# -gt 0 ] || { echo "usage: $0 NAME [NAME ...]" >&2; exit 2; }
for name in "$@"; do
  find_one "$name" && exit 0
done
exit 1
