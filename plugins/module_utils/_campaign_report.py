# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What cec.cc_gateway.campaign_report means: a campaign's two reports (the JSON document and its JUnit XML)
written on the host that runs the task, each whole or not at all; or, before a campaign, the check that they
can be written there (their directory made owner-only when missing, and taking a new file).

The JUnit XML is made here too, in one pass, for the filter cec.cc_gateway.campaign_junit as well."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from ansible_collections.cec.cc_gateway.plugins.module_utils._api.errors import GatewayError
from ansible_collections.cec.cc_gateway.plugins.module_utils._dest import (
    PartFile,
    checked_dest,
    directory_of,
    file_mode,
    holds_exactly,
    mode_text,
    set_mode,
)

STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
# Characters XML 1.0 does not allow in a document: dropped.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
QUOTES = {'"': "&#34;", "'": "&#39;"}
DIRECTORY_MODE = 0o700

ARGUMENT_SPEC: dict[str, Any] = {
    "path": {"type": "path", "required": True},
    "junit_path": {"type": "path"},
    "state": {"type": "str", "choices": ["present", "writable"], "default": "present"},
    "summary": {"type": "dict"},
    "agents": {"type": "list", "elements": "dict"},
    "mode": {"type": "raw", "default": "0644"},
}
SPEC_OPTIONS: dict[str, Any] = {"required_if": [["state", "present", ["summary", "agents"]]]}


def campaign_report(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """The task: write the reports (state present) or check that they can be written (state writable)."""
    if not params.get("path"):
        raise GatewayError(
            "path: must not be empty; give the path of the JSON report, such as reports/campaign.json."
        )
    paths = {
        "path": params["path"],
        "junit_path": params.get("junit_path") or default_junit_path(params["path"]),
    }
    if os.path.realpath(paths["junit_path"]) == os.path.realpath(paths["path"]):
        raise GatewayError(
            f"junit_path: {paths['junit_path']} is the JSON report's path too; give the XML report a path of its own."
        )
    # json_path, not path: AnsibleModule would add the file's owner, mode and state to a result with a path.
    result: dict[str, Any] = {"json_path": paths["path"], "junit_path": paths["junit_path"]}
    if params.get("state") == "writable":
        made = check_writable(paths, check_mode)
        return {**result, "changed": made, "directory_made": made}
    changed = write_reports(
        paths, params["summary"], params["agents"], _mode(params.get("mode", "0644")), check_mode
    )
    return {
        **result,
        "changed": any(changed.values()),
        "written": [paths[name] for name in changed if changed[name]],
    }


def invocation_arguments(params: dict[str, Any]) -> dict[str, Any]:
    """The task's arguments as its result's invocation gives them: the rows as their number (the reports hold
    them), so that verbose output and job events do not carry a campaign's whole report a second time."""
    shown = dict(params)
    if isinstance(shown.get("agents"), list):
        shown["agents"] = f"({len(shown['agents'])} rows, in the reports)"
    if isinstance(shown.get("summary"), dict):
        shown["summary"] = "(in the JSON report)"
    return shown


def _mode(value: Any) -> int:
    try:
        mode = file_mode(value)
    except (TypeError, ValueError):
        mode = -1
    if not 0 <= mode <= 0o7777:
        raise GatewayError(f"mode: must be an octal mode such as '0644' (a string) or 0o644, not {value!r}.")
    return mode


# -- the documents


def report_json(summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> str:
    """The JSON report: the summary's keys in their order, then the agents' rows; as ansible-core's
    to_nice_json(indent=2, sort_keys=false) writes it (dates and times as ISO 8601 text), with a final newline."""
    document = {**summary, "agents": list(rows)}
    return json.dumps(document, cls=_json_encoder(), indent=2, separators=(",", ": ")) + "\n"


def _json_encoder() -> Any:
    """ansible-core's encoder of task data, the one its to_json filters use."""
    try:
        from ansible.module_utils.common.json import get_encoder  # ansible-core 2.19 and later
    except ImportError:
        from ansible.module_utils.common.json import AnsibleJSONEncoder

        return AnsibleJSONEncoder
    return get_encoder("tagless")


def junit_xml(rows: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]) -> str:
    """The JUnit XML report of a campaign's rows (campaign_rows): one testsuite per runner, in the runners'
    order by name, one testcase per agent, a failure element for each failed agent. Raises ValueError for a
    row whose times are not the role's time stamps."""
    by_runner: dict[Any, list[Mapping[str, Any]]] = {}
    for row in rows:
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
    return "\n".join(lines) + "\n"


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
        raise ValueError(f"agent {row.get('agent_id')}: {exc}") from None
    return f"{took.total_seconds():.3f}"


def _sort_key(runner: Any) -> tuple[bool, str]:
    return (runner is None, _plain(runner))


# -- on disk


def default_junit_path(path: str) -> str:
    """The JUnit XML report beside the JSON one: its path without .json, with .xml."""
    return re.sub(r"\.json$", "", path) + ".xml"


def write_reports(
    paths: dict[str, str],
    summary: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    mode: int,
    check: bool,
) -> dict[str, bool]:
    """Write each report (option name: its path) whose bytes or mode differ from what is there; per option,
    whether it changed (would change, in check mode). Both paths are checked before either is written."""
    if not isinstance(summary.get("totals"), Mapping):
        raise GatewayError("summary: must be the campaign's summary, with its totals (a dictionary).")
    try:
        texts = {"path": report_json(summary, rows), "junit_path": junit_xml(rows, summary)}
    except ValueError as exc:
        raise GatewayError(f"agents: {exc}") from None
    except TypeError as exc:
        raise GatewayError(f"summary or agents: a value cannot be written as JSON: {exc}.") from None
    found = {option: checked_dest(path, option, os.path.basename(path)) for option, path in paths.items()}
    changed = {}
    for option, path in paths.items():
        data = texts[option].encode("utf-8")
        info = found[option]
        same_bytes = info is not None and holds_exactly(path, data, option)
        changed[option] = not same_bytes or stat.S_IMODE(info.st_mode) != mode  # type: ignore[union-attr]
        if changed[option] and not check:
            _replace(path, option, data, mode, same_bytes)
    return changed


def _replace(path: str, option: str, data: bytes, mode: int, same_bytes: bool) -> None:
    if same_bytes:
        try:
            set_mode(path, mode)
        except OSError as exc:
            raise GatewayError(
                f"{option}: the mode of {path} cannot be set to {mode_text(mode)}: {exc.strerror}."
            ) from None
        return
    part = PartFile(path, option)
    try:
        part.open()(data)
        part.commit(mode)
    finally:
        part.discard()


def check_writable(paths: dict[str, str], check: bool) -> bool:
    """Before a campaign: each report's directory exists, or is made owner-only (with its missing parents), and
    takes a new file; neither report is a symlink, a directory or a device. Whether a directory was made (would
    be). In check mode nothing is made nor written: an existing directory must be writable by this user."""
    made = False
    probed: set[str] = set()
    for option, path in paths.items():
        directory = directory_of(path)
        missing = _missing_directories(directory)
        made = made or bool(missing)
        if check and missing:
            continue
        for new in missing:
            _make_directory(new, directory, option)
        checked_dest(path, option, os.path.basename(path))
        if not check and os.path.abspath(directory) not in probed:
            _probe(path, option)
            probed.add(os.path.abspath(directory))
    return made


def _missing_directories(directory: str) -> list[str]:
    """The directories to make for directory to exist, outermost first."""
    missing = []
    current = os.path.abspath(directory)
    while not os.path.lexists(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return missing[::-1]


def _make_directory(path: str, directory: str, option: str) -> None:
    try:
        os.mkdir(path, DIRECTORY_MODE)
        # The mode as asked, whatever the umask; on the directory just made, never through a symlink.
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fchmod(fd, DIRECTORY_MODE)
        finally:
            os.close(fd)
    except OSError as exc:
        raise GatewayError(
            f"{option}: its directory {directory} is missing and could not be made: {exc.strerror} ({path})."
        ) from None


def _probe(path: str, option: str) -> None:
    """Make and remove the temporary file a write of path would make beside it: the directory takes it."""
    probe = PartFile(path, option)
    try:
        probe.open()
    finally:
        probe.discard()
