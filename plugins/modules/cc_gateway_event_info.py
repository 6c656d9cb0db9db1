#!/usr/bin/python
# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cc_gateway_event_info
short_description: Read the gateway events the session keeper saw for an agent, or wait for one
version_added: 1.0.0
description:
  - Returns the CC-Gateway events (C(AgentOther_PhoneAlerting), C(AgentMediaEvent_Record), ...) that the
    session keeper received for an agent kept with M(cec.cc_gateway.cc_gateway_session) and
    O(cec.cc_gateway.cc_gateway_session#module:keepalive=true), optionally filtered by type, and can wait for an
    event of a given type.
  - It reads what the keeper recorded (the last 500 events per agent) and sends nothing to the gateway, since
    an agent's events can be polled by one client only, and the keeper is that client. Of the connection
    options only O(gateway_url) is used, to find the agent.
author:
  - cec.cc_gateway maintainers (@cec-collections)
requirements:
  - requests (with urllib3 1.26 or later)
  - jsonschema
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - cec.cc_gateway.connection
  - cec.cc_gateway.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads only; runs the same in check mode.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
options:
  agent_id:
    description:
      - Agent ID, from 101 to O(max_agent_id) (59999 unless set).
      - Mutually exclusive with O(agents); one of them is required.
    type: int
  agents:
    description:
      - The batch form. Several agents in one task, read together (one wait of O(wait_timeout) for all).
      - Mutually exclusive with O(agent_id). An empty list reads nothing (RV(results=[])).
      - Returns RV(results), one per agent in the order given; fails, after reading every agent, if any failed
        (not kept, or no O(wait_for) event within O(wait_timeout)).
    type: list
    elements: dict
    version_added: 2.1.0
    suboptions:
      agent_id:
        description: Agent ID, from 101 to O(max_agent_id) (59999 unless set).
        type: int
        required: true
  session_dir:
    description:
      - Directory of the session store, as given to M(cec.cc_gateway.cc_gateway_session).
      - If not set, the value of the E(CC_GATEWAY_SESSION_DIR) environment variable is used, and without it
        C(~/.cache/cec.cc_gateway/sessions) (or below E(XDG_CACHE_HOME)).
    type: path
  event_type:
    description: Return only events of these types, for example V(AgentOther_PhoneAlerting).
    type: list
    elements: str
  since:
    description: Only events received at or after this time, in milliseconds since the epoch.
    type: int
  wait_for:
    description:
      - Wait until an event of this type (received at or after O(since)) has arrived; fail after O(wait_timeout).
    type: str
  wait_timeout:
    description: Seconds to wait for O(wait_for); more than 0, at most 86400.
    type: float
    default: 30
  password:
    description:
      - Not used; accepted so that C(module_defaults) for C(group/cec.cc_gateway.cc_gateway) apply to this module.
    type: str
  phone_number:
    description:
      - Not used; accepted so that C(module_defaults) for C(group/cec.cc_gateway.cc_gateway) apply to this module.
    type: str
  guid:
    description:
      - Not used; accepted so that C(module_defaults) for C(group/cec.cc_gateway.cc_gateway) apply to this module.
    type: str
  force_login:
    description:
      - Not used; accepted so that C(module_defaults) for C(group/cec.cc_gateway.cc_gateway) apply to this module.
    type: bool
    default: false
  max_concurrency:
    description:
      - Not used; accepted so that C(module_defaults) for C(group/cec.cc_gateway.cc_gateway) apply to this module.
    type: int
    default: 20
seealso:
  - module: cec.cc_gateway.cc_gateway_session
"""

EXAMPLES = r"""
- name: Wait until agent 186's phone rings
  cec.cc_gateway.cc_gateway_event_info:
    gateway_url: https://cc-gateway.example.com:8043
    agent_id: 186
    wait_for: AgentOther_PhoneAlerting
    wait_timeout: 20

- name: Why did these agents stop recording? One read for all of them
  cec.cc_gateway.cc_gateway_event_info:
    gateway_url: https://cc-gateway.example.com:8043
    agents: [{agent_id: 186}, {agent_id: 187}]
    event_type: [AgentMediaEvent_StopRecordDone, AgentOther_ShutdownService]
  register: why

- name: All recording events of agent 186
  cec.cc_gateway.cc_gateway_event_info:
    gateway_url: https://cc-gateway.example.com:8043
    agent_id: 186
    event_type: [AgentMediaEvent_Record, AgentMediaEvent_StopRecordDone]
  register: recording_events
"""

RETURN = r"""
agent_id:
  description: The agent.
  returned: success, with O(agent_id)
  type: int
  sample: 186
results:
  description:
    - With O(agents), one result per agent, in the order given, each with the fields the single form returns
      (RV(agent_id), RV(events), RV(session_alive), RV(session_end_reason), RV(session_problem), RV(recording)),
      and C(failed) and C(msg) for an agent that could not be read.
  returned: with O(agents)
  type: list
  elements: dict
  version_added: 2.1.0
  sample: [{"agent_id": 186, "failed": false, "events": [], "session_alive": false,
            "session_end_reason": "AgentOther_ShutdownService: the agent was signed out",
            "session_problem": null, "recording": null}]
events:
  description: The events, oldest first.
  returned: success, with O(agent_id)
  type: list
  elements: dict
  contains:
    event_type:
      description: The gateway's C(eventType).
      type: str
      returned: always
    content:
      description: The event's C(content), as the gateway sent it (may be null).
      type: raw
      returned: always
    received_at:
      description: When the keeper received it, in milliseconds since the epoch.
      type: int
      returned: always
  sample: [{"event_type": "AgentMediaEvent_Record", "received_at": 1764041000123,
            "content": {"taskId": 5086, "fileName": "Y:\\1\\5\\20261125\\186\\0301021.V3"}}]
session_alive:
  description: Whether the kept session is alive.
  returned: success, with O(agent_id)
  type: bool
  sample: true
session_end_reason:
  description: Why the kept session ended, when it did.
  returned: success, with O(agent_id)
  type: str
  sample: "AgentOther_ShutdownService: the agent was signed out"
session_problem:
  description:
    - While the session is alive, what went wrong with the keeper's last polls of the agent (for example a
      proxy that refuses the connection, or a gateway answering garbage); null when its polls succeed.
    - The keeper goes on polling, backing off to one poll every 10 seconds; the gateway signs the agent out
      after 2 minutes without a successful poll.
  returned: success, with O(agent_id)
  type: str
  version_added: 2.0.0
  sample: "The proxy http://proxy.example.com:3128 failed or refused the connection to https://10.1.1.5:8043 ..."
recording:
  description:
    - The recording the events show running, or null; C(task_id), C(since) (epoch ms), and what its
      C(AgentMediaEvent_Record) said of it, C(file_name), C(location_id), C(record_id), C(call_id) (each
      present when the event carried it; C(location_id) and later ones since 2.1.0).
  returned: success, with O(agent_id)
  type: dict
  sample: {"task_id": "5086", "file_name": "Y:\\1\\5\\20261125\\186\\0301021.V3", "location_id": "256",
           "since": 1764041000123}
"""

from ansible_collections.cec.cc_gateway.plugins.module_utils._event_info import event_info
from ansible_collections.cec.cc_gateway.plugins.module_utils._module import CCGatewayModule
from ansible_collections.cec.cc_gateway.plugins.module_utils._options import (
    ONE_AGENT_OR_MANY,
    event_info_spec,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._results import outcome_of


def main() -> None:
    module = CCGatewayModule(argument_spec=event_info_spec(), supports_check_mode=True, **ONE_AGENT_OR_MANY)
    result = outcome_of(lambda: event_info(module.params), agent_id=module.params["agent_id"])
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
