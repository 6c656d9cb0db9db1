# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filter cec.cc_gateway.campaign_junit (documented in campaign_junit.yml beside it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible.utils.unsafe_proxy import wrap_var
from ansible_collections.cec.cc_gateway.plugins.module_utils._campaign_report import junit_xml
from ansible_collections.cec.cc_gateway.plugins.plugin_utils._filter_input import list_items


def campaign_junit(rows: Any, summary: Any) -> str:
    """The JUnit XML report of a campaign's rows (campaign_rows): one testsuite per runner, in the runners'
    order by name, one testcase per agent, a failure element for each failed agent; in one pass."""
    items = list_items(rows, "campaign_junit", "the input must be the campaign's report rows")
    if not isinstance(summary, Mapping) or not isinstance(summary.get("totals"), Mapping):
        raise AnsibleFilterError("campaign_junit: summary must be the campaign's summary, with its totals")
    for row in items:
        if not isinstance(row, Mapping):
            raise AnsibleFilterError(
                f"campaign_junit: each row must be a dictionary, not {type(row).__name__}"
            )
    try:
        text = junit_xml(items, summary)
    except ValueError as exc:
        raise AnsibleFilterError(f"campaign_junit: {exc}") from None
    # The messages quote what modules, the gateway and Ansible said: never templated again (2.16-2.18 too).
    return wrap_var(text)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"campaign_junit": campaign_junit}
