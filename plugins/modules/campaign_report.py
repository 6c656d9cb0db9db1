#!/usr/bin/python
# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: campaign_report
short_description: Write a campaign's JSON and JUnit XML reports, or check beforehand that they can be written
version_added: 2.1.0
description:
  - Writes the two reports of a test campaign on the host that runs the task (the controller, when
    delegated to C(localhost)) - the JSON document (the summary's keys, then C(agents), one row per agent, as
    C(ansible.builtin.to_nice_json) with C(indent=2) writes it) at O(path), and the JUnit XML report (what
    P(cec.cc_gateway.campaign_junit#filter) makes) at O(junit_path).
  - Each file is written to a temporary file beside it, created exclusively and owner-only, given O(mode), and
    renamed into place, so a reader never sees half a report. A report whose bytes and mode are already as
    wanted is left alone. A report path that is a symbolic link, a directory or a device is refused, and both
    paths are checked before either file is written.
  - With O(state=writable), before a campaign, it writes nothing that stays; each report's directory is made
    when it is missing (with its missing parents, each owner-only, C(0700)), a new file is made in it and
    removed again, and both paths are checked as above, so that a campaign does not run to its end to find it
    cannot write its reports. An existing report is not read then, however large.
  - The role C(cec.cc_gateway.campaign) writes its reports with this module, in the controller's process,
    about two seconds less per campaign than C(ansible.builtin.copy) twice and the checks it replaces.
  - It sends nothing to any gateway; it takes none of the connection options.
author:
  - cec.cc_gateway maintainers (@cec-collections)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details:
      - Writes and makes nothing, not even the probe file of O(state=writable) (an existing directory must then
        be writable by the user); says whether a report would be written, or a directory made.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
  action:
    support: full
    details:
      - On the controller (the task's host is the controller, without C(become)) the action plugin writes the
        reports itself; otherwise it ships the module to the host.
  async:
    support: full
  bypass_host_loop:
    support: none
options:
  path:
    description:
      - Path of the JSON report; must not be empty. A relative path is relative to the working directory of the
        process that writes it; on the controller, the directory C(ansible-playbook) runs in.
    type: path
    required: true
  junit_path:
    description:
      - Path of the JUnit XML report. The default is O(path) without a final C(.json), with C(.xml).
      - Must not be O(path). Its directory may differ from O(path)'s; O(state=writable) checks (and makes) both.
    type: path
  state:
    description:
      - V(present) writes the reports from O(summary) and O(agents).
      - V(writable) checks that they can be written, making their directory when it is missing; O(summary),
        O(agents) and O(mode) are not used.
    type: str
    choices: [present, writable]
    default: present
  summary:
    description:
      - The campaign's summary, the first keys of the JSON report; its C(totals.agents), C(totals.failed) and
        C(generated_at) go into the JUnit report's C(testsuites) element. C(totals) must be a dictionary.
      - Required with O(state=present).
    type: dict
  agents:
    description:
      - The campaign's report rows, one per agent (what P(cec.cc_gateway.campaign_rows#filter) makes), the
        JSON report's C(agents), and the JUnit report's test cases, one test suite per C(runner).
      - Required with O(state=present).
    type: list
    elements: dict
  mode:
    description:
      - The permission bits of both reports, as an octal string (quote it in YAML), for example V('0644'), or
        a number such as V(0o644). Applied before a file is renamed into place, and to a report whose bytes are
        already as wanted.
    type: raw
    default: '0644'
notes:
  - The reports hold no password; the role's rows carry agent IDs, task IDs, file names, times and messages.
  - The result's C(invocation) (from ansible-core 2.21 on only where C(INJECT_INVOCATION) asks for it) gives the
    number of O(agents) rows, not the rows themselves (the reports hold them), so that verbose output does not
    carry a campaign's whole report a second time.
  - Dates and times in O(summary) or O(agents) are written as ISO 8601 text, as C(ansible.builtin.to_json)
    writes them.
seealso:
  - plugin: cec.cc_gateway.campaign_junit
    plugin_type: filter
  - plugin: cec.cc_gateway.campaign_rows
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Check before the campaign that its reports can be written (the directory is made, 0700, if missing)
  cec.cc_gateway.campaign_report:
    path: reports/campaign.json
    state: writable
  delegate_to: localhost
  run_once: true

- name: Write the JSON and the JUnit XML report (reports/campaign.xml)
  cec.cc_gateway.campaign_report:
    path: reports/campaign.json
    summary:
      format: cec.cc_gateway.campaign/1
      generated_at: "2026-12-07T10:00:00Z"
      totals: {agents: 1, passed: 1, failed: 0}
    agents:
      - agent_id: 186
        runner: runner1
        outcome: passed
        task_id: "1227"
        started_at: "2026-12-07T09:59:00.000000Z"
        stopped_at: "2026-12-07T09:59:30.000000Z"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
json_path:
  description: The JSON report's path, as given in O(path).
  returned: always
  type: str
  sample: reports/campaign.json
junit_path:
  description: The JUnit XML report's path.
  returned: always
  type: str
  sample: reports/campaign.xml
written:
  description: The reports written (that would be written, in check mode); a report already as wanted is not.
  returned: with O(state=present)
  type: list
  elements: str
  sample: [reports/campaign.json, reports/campaign.xml]
directory_made:
  description: Whether the reports' directory was made (would be made, in check mode).
  returned: with O(state=writable)
  type: bool
  sample: false
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cec.cc_gateway.plugins.module_utils._campaign_report import (
    ARGUMENT_SPEC,
    SPEC_OPTIONS,
    campaign_report,
    invocation_arguments,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._results import outcome_of


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **SPEC_OPTIONS)
    result = outcome_of(lambda: campaign_report(module.params, module.check_mode))
    # Given here, so that async_status (which reads this result, not the action's) shows the same.
    result["invocation"] = {"module_args": invocation_arguments(module.params)}
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
