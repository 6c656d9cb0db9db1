# shellcheck shell=bash
# Sourced by the targets' runme.sh (ansible-test passes no environment on but HOME): their temporary files inside
# the checkout, never in /tmp. scripts/run-integration.sh names the work home's (cc_gateway_tmpdir in
# integration_config.yml); without it, ansible-test's OUTPUT_DIR. The work home's first: ansible-core 2.21's
# ansible-playbook makes a Unix socket under TMPDIR, and a socket's path (at most 107 bytes) under OUTPUT_DIR is
# too long ("Local RPC server did not start").
TMPDIR=$(sed -n "s/^cc_gateway_tmpdir: '\(.*\)'\$/\1/p" ../../integration_config.yml)
export TMPDIR="${TMPDIR:-${OUTPUT_DIR:?ansible-test sets OUTPUT_DIR}}"
