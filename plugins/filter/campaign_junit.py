# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filter cec.cc_gateway.campaign_junit (documented in campaign_junit.yml beside it)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from ansible.errors import AnsibleFilterError
from ansible.utils.unsafe_proxy import wrap_var
from ansible_collections.cec.cc_gateway.plugins.plugin_utils._filter_input import list_items

STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
# Characters XML 1.0 does not allow in a document: dropped.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
QUOTES = {'"': "&#34;", "'": "&#39;"}


def campaign_junit(rows: Any, summary: Any) -> str:
    """The JUnit XML report of a campaign's rows (campaign_rows): one testsuite per runner, in the runners'
    order by name, one testcase per agent, a failure element for each failed agent; in one pass."""
    items = list_items(rows, "campaign_junit", "the input must be the campaign's report rows")
    if not isinstance(summary, Mapping) or not isinstance(summary.get("totals"), Mapping):
        raise AnsibleFilterError("campaign_junit: summary must be the campaign's summary, with its totals")
    by_runner: dict[str, list[Mapping[str, Any]]] = {}
    for row in items:
        if not isinstance(row, Mapping):
            raise AnsibleFilterError(
                f"campaign_junit: each row must be a dictionary, not {type(row).__name__}"
            )
        by_runner.setdefault(row.get("runner"), []).append(row)
    totals = summary["totals"]
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name="cec.cc_gateway.campaign" tests="{_text(totals.get("agents"))}" failures='
        f'"{_text(totals.get("failed"))}" errors="0" timestamp="{_text(summary.get("generated_at"))}">',
    ]
    for runner in sorted(by_runner, key=_sort_key):
        lines.extend(_suite(runner, by_runner[runner]))
    lines.append("</testsuites>")
    # The messages quote what modules, the gateway and Ansible said: never templated again (2.16-2.18 too).
    return wrap_var("\n".join(lines) + "\n")


def _suite(runner: Any, rows: list[Mapping[str, Any]]) -> list[str]:
    name = _text(runner)
    failed = sum(1 for row in rows if row.get("outcome") == "failed")
    lines = [
        f'  <testsuite name="{name}" hostname="{name}" tests="{len(rows)}" failures="{failed}" errors="0"'
        ' skipped="0">'
    ]
    for row in rows:
        agent = _plain(row.get("agent_id"))
        lines.append(f'    <testcase classname="{name}" name="agent {agent}" time="{_seconds(row)}">')
        if row.get("outcome") == "failed":
            step, message = row.get("step"), row.get("message")
            lines.append(
                f'      <failure type="{_text(step)}" message="{_text(f"{step}: {message}")}">'
                f"agent {agent} failed at {_text(step)}: {_text(message)}</failure>"
            )
        out = [f"task_id: {_text(row.get('task_id'))}", f"file_name: {_text(row.get('file_name'))}"]
        out += [f"started_at: {_text(row.get('started_at'))}", f"stopped_at: {_text(row.get('stopped_at'))}"]
        if "file_size" in row:
            out += [
                f"{key}: {_text(row.get(key))}"
                for key in ("begin_time", "end_time", "file", "file_size", "file_checksum")
            ]
        passed = f"; {_text(row.get('message'))}" if row.get("outcome") == "passed" else ""
        lines.append(f"      <system-out>{'; '.join(out)}{passed}</system-out>")
        lines.append("    </testcase>")
    lines.append("  </testsuite>")
    return lines


def _plain(value: Any) -> str:
    return "" if value is None else str(value)


def _text(value: Any) -> str:
    """value as XML text or attribute value: None as nothing, what XML 1.0 does not allow dropped, escaped."""
    return escape(NOT_XML.sub("", _plain(value)), QUOTES)


def _seconds(row: Mapping[str, Any]) -> str:
    started, stopped = row.get("started_at"), row.get("stopped_at")
    if not (started and stopped):
        return "0.000"
    try:
        took = datetime.strptime(str(stopped), STAMP) - datetime.strptime(str(started), STAMP)
    except ValueError as exc:
        raise AnsibleFilterError(f"campaign_junit: agent {row.get('agent_id')}: {exc}") from None
    return f"{took.total_seconds():.3f}"


def _sort_key(runner: Any) -> tuple[bool, str]:
    return (runner is None, _plain(runner))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"campaign_junit": campaign_junit}
