#!/usr/bin/env bash
# ansible-test bootstraps pip from a URL these machines cannot reach; it first looks in its cache.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$HOME/.ansible/test/cache"
cp "$here/get_pip_standin.py" "$HOME/.ansible/test/cache/get_pip_24_2.py"
