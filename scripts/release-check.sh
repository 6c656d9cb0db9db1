#!/usr/bin/env bash
# make release-check: what a Galaxy / Automation Hub upload and an execution-environment build would check.
#
#   scripts/release-check.sh        (work files under .work/release/)
#
# 1. ansible-galaxy collection build of the git-tracked files (scripts/collection-tree.sh), then the tarball's
#    file list is compared with them: build_ignore must keep out what is not part of the collection.
# 2. galaxy-importer on the tarball, configured by .work/release/galaxy-importer.cfg (GALAXY_IMPORTER_CONFIG):
#    no ansible-test (it would need a container), ansible-lint offline, required Galaxy tags, changelog checked.
#    Any WARNING or ERROR it logs fails the check.
# 3. Execution environment: the tarball installed under .work/release/ee/collections; `ansible-builder
#    introspect` on it must find the collection's Python and system requirements (this is what an EE build
#    does); `ansible-builder create` (no container engine needed) makes a build context from an EE definition
#    that uses the files meta/execution-environment.yml names; its _build/ must hold them unchanged.
# 4. antsibull-changelog lint (fragments) and lint-changelog-yaml (changelogs/changelog.yaml).
# 5. ansible-lint --offline --profile production on the collection as a user gets it: the tarball installed
#    with ansible-galaxy under .work/release/lint/, linted there without the source tree's .ansible-lint (which
#    the tarball leaves out). Any violation fails the check.
#
# The tools live in .venv-release (requirements-release.txt), kept apart from the test venv, made with $PYTHON
# (python3 by default, found on PATH or in pyenv by scripts/find-python.sh; 3.11 or newer). Everything after it
# runs in the work home (scripts/work-home.sh): HOME inside the checkout, nothing written into the user's home.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
venv=$root/.venv-release
out=$root/.work/release
failures=()

say() { printf '\n== %s\n' "$*"; }
fail() {
  echo "FAILED: $*"
  failures+=("$*")
}
quiet_pip() { "$@" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true; }

python=$(scripts/find-python.sh "${PYTHON:-python3}") || {
  echo "release-check: PYTHON=${PYTHON:-python3} not found on PATH nor in pyenv (Python 3.11 or newer needed)"
  exit 1
}
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "release-check: PYTHON=${PYTHON:-python3} is Python $pyver ($python); Python 3.11 or newer needed"
  exit 1
}
stamp="$(sha256sum requirements-release.txt | cut -c1-16) python$pyver"
if [ ! -f "$venv/.installed" ] || [ "$(cat "$venv/.installed")" != "$stamp" ]; then
  say "Creating $venv ($python)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  quiet_pip "$venv/bin/python" -m pip install --quiet --upgrade pip
  quiet_pip "$venv/bin/python" -m pip install --quiet -r requirements-release.txt
  "$venv/bin/python" -c "import galaxy_importer, ansible_builder, antsibull_changelog"
  echo "$stamp" >"$venv/.installed"
fi
export PATH=$venv/bin:$PATH
unset PYTHONPATH ANSIBLE_COLLECTIONS_PATH
# shellcheck source=scripts/work-home.sh
. scripts/work-home.sh
rm -rf "$out"
mkdir -p "$out"

# ---------------------------------------------------------------------------------------------------------------
say "1. ansible-galaxy collection build (from the git-tracked files)"
# Built from a copy of the tracked files, as from a clean clone: neither local venvs nor edits still in
# progress elsewhere in the work tree end up in (or race with) the tarball.
src=$(scripts/collection-tree.sh "$out/src")
(cd "$src" && ansible-galaxy collection build --force --output-path "$out")
tarball=$(ls "$out"/cec-cc_gateway-*.tar.gz)
echo "$tarball ($(du -h "$tarball" | cut -f1), $(tar -tzf "$tarball" | grep -vc '/$') files)"
tar -tzf "$tarball" | grep -v '/$' | grep -v -x -e MANIFEST.json -e FILES.json | sort >"$out/tarball-files.txt"
git ls-files | sort >"$out/tracked-files.txt"
comm -23 "$out/tarball-files.txt" "$out/tracked-files.txt" >"$out/untracked-in-tarball.txt"
if [ -s "$out/untracked-in-tarball.txt" ]; then
  fail "the tarball holds files git does not track:"
  head -20 "$out/untracked-in-tarball.txt"
else
  echo "every file in the tarball is tracked by git"
fi
echo "-- tracked files kept out by build_ignore (check that none of them belongs in the collection):"
comm -13 "$out/tarball-files.txt" "$out/tracked-files.txt" | grep -v -e '^simulator/' -e '^scripts/' -e '^benchmarks/' \
  -e '^\.ci/' | sed 's/^/   /' || true
for required in README.md LICENSE meta/runtime.yml meta/execution-environment.yml requirements.txt bindep.txt \
  changelogs/changelog.yaml plugins/modules/cc_gateway_record.py docs/docsite/extra-docs.yml \
  docs/docsite/links.yml; do
  grep -qx "$required" "$out/tarball-files.txt" || fail "the tarball lacks $required"
done

# ---------------------------------------------------------------------------------------------------------------
say "2. galaxy-importer $(python -c 'import importlib.metadata as m; print(m.version("galaxy-importer"))')"
cat >"$out/galaxy-importer.cfg" <<EOF
[galaxy-importer]
# ansible-test sanity runs in a container there; here it is make sanity / make test-matrix.
run_ansible_test = False
run_ansible_doc = True
run_ansible_lint = True
offline_ansible_lint = True
run_flake8 = False
check_required_tags = True
check_changelog = True
require_v1_or_greater = False
ansible_local_tmp = $out/ansible-tmp
tmp_root_dir = $out/importer-tmp
log_level_main = INFO
EOF
mkdir -p "$out/ansible-tmp" "$out/importer-tmp"
status=0
# It writes importer_result.json into the current directory.
(cd "$out" && GALAXY_IMPORTER_CONFIG=$out/galaxy-importer.cfg python -m galaxy_importer.main "$tarball" \
  >"$out/galaxy-importer.log" 2>&1) || status=$?
cat "$out/galaxy-importer.log"
if [ "$status" -ne 0 ]; then
  fail "galaxy-importer exited with $status"
fi
if grep -E "^(WARNING|ERROR)|: (WARNING|ERROR)" "$out/galaxy-importer.log" >"$out/galaxy-importer-problems.txt"; then
  fail "galaxy-importer reported warnings or errors:"
  cat "$out/galaxy-importer-problems.txt"
fi
grep -q "Importer processing completed successfully" "$out/galaxy-importer.log" ||
  fail "galaxy-importer did not report a completed import"

# ---------------------------------------------------------------------------------------------------------------
say "3. execution environment: ansible-builder $(ansible-builder --version)"
ee=$out/ee
mkdir -p "$ee/collections"
ANSIBLE_COLLECTIONS_PATH=$ee/collections ansible-galaxy collection install --force -p "$ee/collections" "$tarball" >/dev/null
installed=$ee/collections/ansible_collections/cec/cc_gateway

echo "-- ansible-builder introspect (what an EE build finds in the installed collection)"
ansible-builder introspect --sanitize "$ee/collections" | tee "$ee/introspect.txt"
# Every line of the collection's requirements.txt and bindep.txt must come out, attributed to the collection.
for file in requirements.txt bindep.txt; do
  while read -r requirement; do
    grep -Fq -- "$requirement  # from collection cec.cc_gateway" "$ee/introspect.txt" ||
      fail "ansible-builder introspect did not report '$requirement' ($file) for cec.cc_gateway"
  done < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$installed/$file")
done

echo "-- ansible-builder create (build context only; no container engine here)"
# The files meta/execution-environment.yml names, relative to the collection root.
read -r python_deps system_deps < <(python - "$installed/meta/execution-environment.yml" <<'PY'
import sys
import yaml

deps = (yaml.safe_load(open(sys.argv[1])) or {}).get("dependencies") or {}
print(deps.get("python", "-"), deps.get("system", "-"))
PY
)
[ "$python_deps" != "-" ] || fail "meta/execution-environment.yml names no python dependencies file"
[ "$system_deps" != "-" ] || fail "meta/execution-environment.yml names no system dependencies file"
[ -f "$installed/$python_deps" ] || fail "meta/execution-environment.yml names $python_deps, not in the tarball"
[ -f "$installed/$system_deps" ] || fail "meta/execution-environment.yml names $system_deps, not in the tarball"
cp "$tarball" "$ee/"
cat >"$ee/execution-environment.yml" <<EOF
---
# An execution environment with cec.cc_gateway, made by scripts/release-check.sh to validate the build context.
version: 3
images:
  base_image:
    name: quay.io/centos/centos:stream9
dependencies:
  python_interpreter:
    package_system: python3.11
    python_path: /usr/bin/python3.11
  ansible_core:
    package_pip: ansible-core==2.19.14
  ansible_runner:
    package_pip: ansible-runner
  python: $installed/$python_deps
  system: $installed/$system_deps
  galaxy:
    collections:
      - name: /build/collections/$(basename "$tarball")
        type: file
additional_build_files:
  - src: $(basename "$tarball")
    dest: collections
additional_build_steps:
  prepend_galaxy:
    - COPY _build/collections/ /build/collections/
EOF
rm -rf "$ee/context"
ansible-builder create -f "$ee/execution-environment.yml" --context "$ee/context" --output-filename Containerfile
find "$ee/context" -type f | sed "s|$ee/context/||" | sort | tee "$ee/context-files.txt"
for pair in "$python_deps:requirements.txt" "$system_deps:bindep.txt"; do
  source_file=${pair%%:*} context_file=${pair##*:}
  if [ ! -f "$ee/context/_build/$context_file" ]; then
    fail "the build context has no _build/$context_file"
  elif ! cmp -s "$installed/$source_file" "$ee/context/_build/$context_file"; then
    fail "_build/$context_file differs from the collection's $source_file"
  else
    echo "_build/$context_file = the collection's $source_file"
  fi
done
grep -q "requirements.txt" "$ee/context/Containerfile" || fail "the Containerfile does not use requirements.txt"
grep -q "bindep.txt" "$ee/context/Containerfile" || fail "the Containerfile does not use bindep.txt"

# ---------------------------------------------------------------------------------------------------------------
say "4. antsibull-changelog $(antsibull-changelog --version | awk '{print $NF}')"
antsibull-changelog lint -v || fail "antsibull-changelog lint"
antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml || fail "antsibull-changelog lint-changelog-yaml"
echo "changelog fragments and changelogs/changelog.yaml are valid"

# ---------------------------------------------------------------------------------------------------------------
say "5. ansible-lint $(ansible-lint --nocolor --version 2>/dev/null | awk 'NR == 1 {print $2}') --profile production on the installed tarball"
lint=$out/lint
mkdir -p "$lint/collections"
ANSIBLE_COLLECTIONS_PATH=$lint/collections ansible-galaxy collection install --force -p "$lint/collections" "$tarball" >/dev/null
installed=$lint/collections/ansible_collections/cec/cc_gateway
# An explicit configuration: otherwise ansible-lint would look upwards from the installed collection and find
# the source tree's .ansible-lint (whose exclusions the installed collection does not have).
cat >"$lint/ansible-lint.yml" <<'EOF'
---
# scripts/release-check.sh: ansible-lint's defaults, production profile, offline; nothing excluded.
profile: production
offline: true
EOF
status=0
(cd "$installed" && ANSIBLE_COLLECTIONS_PATH=$lint/collections \
  ansible-lint --nocolor --offline --profile production -c "$lint/ansible-lint.yml" >"$lint/ansible-lint.log" 2>&1) ||
  status=$?
cat "$lint/ansible-lint.log"
if [ "$status" -ne 0 ]; then
  fail "ansible-lint --profile production on the installed collection exited with $status"
elif ! grep -q "^Passed: 0 failure(s), 0 warning(s)" "$lint/ansible-lint.log"; then
  fail "ansible-lint --profile production on the installed collection did not pass cleanly"
fi

# ---------------------------------------------------------------------------------------------------------------
say "release-check summary"
if [ ${#failures[@]} -gt 0 ]; then
  printf '  FAILED: %s\n' "${failures[@]}"
  exit 1
fi
echo "  all release checks passed ($tarball)"
