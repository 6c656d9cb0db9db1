#!/usr/bin/env bash
# Lay the collection out where ansible-test wants it: <dir>/ansible_collections/cec/cc_gateway, holding the
# git-tracked files of this checkout (as they are in the work tree) minus what is not part of the collection.
# The copy gets a git repository of its own, so ansible-test sees exactly these files.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
work=${1:-$root/.work}
dest="$work/ansible_collections/cec/cc_gateway"
rm -rf "$dest"
mkdir -p "$dest"
cd "$root"
git ls-files -z -- . ':!simulator' ':!benchmarks' ':!scripts' ':!.ci' ':!Makefile' \
  | xargs -0 cp --parents -t "$dest"
cd "$dest"
git init -q
git add -A
git -c user.name=ansible-test -c user.email=ansible-test@localhost commit -q -m "collection under test"
echo "$dest"
