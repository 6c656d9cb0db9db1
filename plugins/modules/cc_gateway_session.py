#!/usr/bin/python
# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cc_gateway_session
short_description: Sign a Huawei CEC CC-Gateway agent in or out, and keep its session alive
version_added: 1.0.0
description:
  - O(state=present) signs an agent in (C(PUT /agentgateway/resource/onlineagent/{agentid}), or
    C(.../forcelogin) with O(force_login)); O(state=absent) signs it out (C(DELETE .../logout)).
  - A session the module signs in is kept in the session store, where every module of the collection
    finds it by agent.
  - B(Keeping sessions alive.) The gateway signs an agent out when nobody polls its events for 2 minutes,
    and in dynamic authentication (the default) replaces the GUID every minute, the old one expiring after
    two. With O(keepalive=true) a background process on the host that runs the task, the session keeper,
    long-polls the agent's events within that limit, follows the GUID and records the events (see
    M(cec.cc_gateway.cc_gateway_event_info)). One keeper serves every kept agent of a session store, one
    connection each (asyncio and aiohttp, no thread per agent), paced as Huawei's own clients pace their
    polls (after an empty poll it waits 500 ms, after an event it polls again at once, after a failure it
    backs off to at most 10 seconds). It uses the proxy, CA bundle and client certificate the task that kept
    the agent resolved (see O(gateway_url) and O(ca_path)), whatever later tasks use.
  - The keeper starts before the first sign-in of the task, exits by itself when it keeps no agent for 30
    seconds, and O(state=absent) of the last kept agent stops it at once. A kept agent no task used for
    O(keepalive_lease) seconds is stopped and signed out by the keeper itself. A keeper that died, hangs (no
    heartbeat for 30 seconds) or was started by another version of the collection is reported by the next
    task that needs it, and replaced by the next task with O(keepalive=true).
  - Idempotent. O(state=present) on a live session (checked read-only, or vouched for by the keeper) changes
    nothing; O(state=absent) of an agent that is not signed in changes nothing.
author:
  - cec.cc_gateway maintainers (@cec-collections)
requirements:
  - requests (with urllib3 1.26 or later)
  - jsonschema
  - aiohttp, for O(keepalive=true) (the session keeper)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - cec.cc_gateway.connection
  - cec.cc_gateway.agent
  - cec.cc_gateway.attributes
attributes:
  check_mode:
    support: full
    details:
      - Signs nothing in or out and starts no keeper; a stored session is checked with a read-only status query.
  diff_mode:
    support: full
    details:
      - Shows whether the agent is signed in before and after.
  platform:
    support: full
    platforms: posix
options:
  state:
    description:
      - V(present) makes sure the agent is signed in; V(absent) makes sure it is signed out (and no longer kept).
    type: str
    choices: [present, absent]
    default: present
  keepalive:
    description:
      - With O(state=present), hand the session to the session keeper, which keeps it alive and follows GUID
        rotation until O(state=absent).
      - V(false) does not stop keeping an agent that is kept already; O(state=absent) does.
      - Needs a session the module signs in itself (O(password) and O(phone_number)), not O(guid).
    type: bool
    default: false
  keepalive_lease:
    description:
      - With O(keepalive=true), how many seconds the session keeper keeps the agent after the last task that
        used it (every task of this collection for the agent renews the lease, check mode included). When it
        runs out, the keeper stops the agent's recording, signs the agent out and records why (the
        C(session_end_reason) of M(cec.cc_gateway.cc_gateway_event_info), and C(keeper.log)), so a playbook
        that was killed, or a runner cut off from the controller, leaves nothing running for longer.
      - V(0) keeps the agent until O(state=absent).
      - Omitted, a kept agent keeps the lease it has (an hour when it is kept for the first time).
      - At most 604800 (a week). Given for an agent that is kept already, the new lease applies from now.
    type: float
    version_added: 2.1.0
  all_kept:
    description:
      - With O(state=absent), sign out every agent the session store (O(session_dir)) keeps for O(gateway_url),
        as if they were listed in O(agents). For a run that must end now, instead of waiting for
        O(keepalive_lease). O(password) is used for agents whose GUID went stale.
      - Mutually exclusive with O(agent_id) and O(agents); one of the three is required.
    type: bool
    version_added: 2.1.0
  return_guid:
    description:
      - Return the session's GUID as RV(session.guid), for tools outside this collection.
      - The GUID is a secret that opens the agent's session; register the result with care (C(no_log)).
    type: bool
    default: false
  agents:
    description:
      - The batch form. Several agents in one task, worked on concurrently (see O(max_concurrency)).
      - Mutually exclusive with O(agent_id). O(password) of the task is used for entries without one.
      - Returns RV(results), one per agent in the order given; fails, after working on every agent, if any failed.
    type: list
    elements: dict
    suboptions:
      agent_id:
        description: Agent ID, from 101 to O(max_agent_id) (59999 unless set). Each agent may be listed once.
        type: int
        required: true
      password:
        description: The agent's sign-in password.
        type: str
      phone_number:
        description: The softphone number bound to the agent.
        type: str
      guid:
        description: GUID of an existing session of the agent (secret).
        type: str
seealso:
  - module: cec.cc_gateway.cc_gateway_record
  - module: cec.cc_gateway.cc_gateway_event_info
  - name: Sign-in (Huawei CEC API reference)
    description: The gateway interface this module calls.
    link: https://support.huaweicloud.com/intl/en-us/api-cec/cec_07_1202.html
"""

EXAMPLES = r"""
- name: Sign agent 186 in and keep its session alive for the whole campaign
  cec.cc_gateway.cc_gateway_session:
    gateway_url: https://cc-gateway.example.com:8043
    agent_id: 186
    password: "{{ agent_password }}"
    phone_number: "70186"
    keepalive: true

- name: Sign 100 agents in, 20 at a time, and keep them
  cec.cc_gateway.cc_gateway_session:
    gateway_url: https://cc-gateway.example.com:8043
    password: "{{ agent_password }}"
    keepalive: true
    max_concurrency: 20
    agents: "{{ campaign_agents }}"  # [{agent_id: 101, phone_number: "70101"}, ...]

- name: Sign out every agent this host's session store still keeps (a campaign that must end now)
  cec.cc_gateway.cc_gateway_session:
    gateway_url: https://cc-gateway.example.com:8043
    state: absent
    all_kept: true
    password: "{{ agent_password }}"

- name: Sign agent 186 out (stops keeping it; the keeper exits with its last agent)
  cec.cc_gateway.cc_gateway_session:
    gateway_url: https://cc-gateway.example.com:8043
    agent_id: 186
    state: absent
"""

RETURN = r"""
agent_id:
  description: The agent the task acted on.
  returned: without O(agents)
  type: int
  sample: 186
state:
  description: The state the task brought about.
  returned: without O(agents)
  type: str
  sample: present
session:
  description: The agent's session.
  returned: without O(agents)
  type: dict
  contains:
    agent_id:
      description: The agent.
      type: int
      returned: always
    gateway_url:
      description: The gateway.
      type: str
      returned: always
    signed_in:
      description: Whether the agent is signed in now.
      type: bool
      returned: always
    signed_in_at:
      description: When this collection signed the session in (seconds since the epoch); null if unknown.
      type: float
      returned: always
    kept:
      description: Whether the session keeper keeps the agent.
      type: bool
      returned: always
    keeper_pid:
      description: PID of the session keeper when the agent is kept.
      type: int
      returned: always
    guid:
      description: The session's GUID (secret).
      type: str
      returned: with O(return_guid=true)
  sample: {"agent_id": 186, "gateway_url": "https://cc-gateway.example.com:8043", "signed_in": true,
           "signed_in_at": 1764041000.5, "kept": true, "keeper_pid": 4242}
message:
  description: What happened, in a sentence.
  returned: without O(agents)
  type: str
  sample: Agent 186 signed in. The session keeper (pid 4242) keeps it alive.
msg:
  description: With O(agents), how many agents changed, or which failed and why.
  returned: with O(agents)
  type: str
  sample: "100 agents: 100 changed"
results:
  description: With O(agents), one result per agent (the keys above, plus C(changed), C(failed), C(msg)).
  returned: with O(agents)
  type: list
  elements: dict
  sample: [{"agent_id": 186, "changed": true, "failed": false, "state": "present"}]
"""

from ansible_collections.cec.cc_gateway.plugins.module_utils._module import run_agent_task
from ansible_collections.cec.cc_gateway.plugins.module_utils._options import SESSION_AGENTS, session_spec
from ansible_collections.cec.cc_gateway.plugins.module_utils._signin import SessionTask


def main() -> None:
    run_agent_task(session_spec(), SessionTask, **SESSION_AGENTS)


if __name__ == "__main__":
    main()
