#!/usr/bin/env bash
# ansible-test bootstraps pip from a URL these machines cannot reach; it first looks in its cache.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$HOME/.ansible/test/cache"
# ansible-core 2.19 asks for get_pip_24_2.py, 2.20 and 2.21 for get_pip_25_2.py.
for version in 24_2 25_2; do
  cp "$here/get_pip_standin.py" "$HOME/.ansible/test/cache/get_pip_$version.py"
done
