#!/usr/bin/env bash
# make docs: build the collection's docsite with antsibull-docs and Sphinx, failing on any warning.
#
#   scripts/docs.sh            -> .work/docs-build/build/html/index.html
#
# Steps: a venv .venv-docs from requirements-docs.txt; the collection laid out under .work/docs-collection (the
# git-tracked files, as ansible-test sees them); the retcode table of the user guide checked against
# plugins/module_utils/_api/retcodes.py; `antsibull-docs lint-collection-docs --plugin-docs`; `antsibull-docs
# sphinx-init --use-current`, then the generated build.sh (antsibull-docs collection + sphinx-build -W).
#
# Offline build: Sphinx's intersphinx would fetch inventories of docs.python.org, docs.ansible.com, ... which
# this build must not depend on. The generated pages refer to a few labels of the Ansible docs only; a small local
# inventory maps them to their docs.ansible.com pages, and no other inventory is used.
#
# The venv is made with $PYTHON (python3 by default, found on PATH or in pyenv by scripts/find-python.sh; 3.11 or
# newer). The build runs in the work home (scripts/work-home.sh): HOME inside the checkout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
venv=$root/.venv-docs
work=$root/.work
build=$work/docs-build

say() { printf '\n== %s\n' "$*"; }

python=$(scripts/find-python.sh "${PYTHON:-python3}") || {
  echo "docs: PYTHON=${PYTHON:-python3} not found on PATH nor in pyenv (Python 3.11 or newer needed)"
  exit 1
}
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "docs: PYTHON=${PYTHON:-python3} is Python $pyver ($python); Python 3.11 or newer needed"
  exit 1
}
stamp="$(sha256sum requirements-docs.txt | cut -c1-16) python$pyver"
if [ ! -f "$venv/.installed" ] || [ "$(cat "$venv/.installed")" != "$stamp" ]; then
  say "Creating $venv ($python)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip 2>&1 | grep -v "is ignored: it is neither" || true
  "$venv/bin/python" -m pip install --quiet -r requirements-docs.txt 2>&1 | grep -v "is ignored: it is neither" || true
  "$venv/bin/antsibull-docs" --version >/dev/null
  echo "$stamp" >"$venv/.installed"
fi
export PATH=$venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=$work/docs-collection
unset PYTHONPATH
# shellcheck source=scripts/work-home.sh
. scripts/work-home.sh

say "Laying the collection out under $ANSIBLE_COLLECTIONS_PATH"
collection=$(scripts/collection-tree.sh "$ANSIBLE_COLLECTIONS_PATH")
echo "$collection"

say "Checking the retcode table of the troubleshooting guide against _api/retcodes.py MEANINGS"
python - "$collection" <<'PY'
import importlib.util
import re
import sys
from pathlib import Path

collection = Path(sys.argv[1])
spec = importlib.util.spec_from_file_location("_retcodes", collection / "plugins/module_utils/_api/retcodes.py")
retcodes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(retcodes)
page = (collection / "docs/docsite/rst/guide_troubleshooting.rst").read_text(encoding="utf-8")
flat = re.sub(r"\s+", " ", page)
problems = []
for code, meaning in retcodes.MEANINGS.items():
    row = re.search(r"\* - ``" + re.escape(code) + r"`` - (.*?) - ", flat)
    if row is None:
        problems.append(f"{code}: no row in the retcode table")
    elif row.group(1).strip() != re.sub(r"\s+", " ", meaning):
        problems.append(f"{code}: table says {row.group(1).strip()!r}, _retcodes.py says {meaning!r}")
documented = set(re.findall(r"\* - ``(\d{3}-\d{3})``", flat))
problems += [f"{code}: in the table but not in _retcodes.MEANINGS" for code in documented - set(retcodes.MEANINGS)]
if problems:
    print("docs/docsite/rst/guide_troubleshooting.rst is out of date:\n  " + "\n  ".join(problems))
    sys.exit(1)
print(f"all {len(retcodes.MEANINGS)} retcodes documented with their meaning")
PY

say "antsibull-docs lint-collection-docs --plugin-docs --check-extra-docs-refs"
(cd "$collection" && antsibull-docs lint-collection-docs --plugin-docs --check-extra-docs-refs .)

say "antsibull-docs sphinx-init --use-current --dest-dir $build"
rm -rf "$build"
# sphinx-init wants an existing directory that only its owner can write to.
mkdir -p "$build"
chmod 0755 "$build"
antsibull-docs sphinx-init --use-current --dest-dir "$build" --fail-on-error \
  --project "cec.cc_gateway" --copyright "cec.cc_gateway contributors" \
  --title "cec.cc_gateway Collection Documentation" --html-short-title "cec.cc_gateway" \
  cec.cc_gateway >/dev/null

# Offline intersphinx: only the Ansible labels the generated pages use, from a local inventory.
python - "$build/ansible_devel.inv" <<'PY'
import sys
import zlib

# Labels of the Ansible docs that antsibull-docs' templates refer to; the anchor is the label with - for _.
labels = {
    "action_plugins": ("plugins/action.html", "Action plugins"),
    "callback_plugins": ("plugins/callback.html", "Callback plugins"),
    "collections_keyword": ("collections_guide/collections_using_playbooks.html", "The collections keyword"),
    "common_return_values": ("reference_appendices/common_return_values.html", "Return Values"),
    "ansible_configuration_settings": ("reference_appendices/config.html", "Ansible Configuration Settings"),
    "list_of_collections": ("collections/index.html", "Collection Index"),
}
header = b"# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n" \
         b"# The remainder of this file is compressed using zlib.\n"
body = "".join(
    f"{name} std:label -1 {page}#{name.replace('_', '-')} {title}\n" for name, (page, title) in labels.items()
).encode()
with open(sys.argv[1], "wb") as out:
    out.write(header + zlib.compress(body))
PY
cat >>"$build/conf.py" <<'PY'

# scripts/docs.sh: build offline; Ansible labels resolve through a local inventory (see scripts/docs.sh).
intersphinx_mapping = {
    'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/', ('../ansible_devel.inv',)),
}
PY

say "Building the docsite (sphinx-build -W: warnings are errors)"
"$build/build.sh"

index=$build/build/html/index.html
test -s "$index"
say "Docsite: $index"
