#!/usr/bin/python
# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cc_gateway_record
short_description: Start or stop an agent's voice recording on a Huawei CEC CC-Gateway
version_added: 1.0.0
description:
  - Starts the voice recording of a contact-center agent through the CC-Gateway I(Starting Voice Recording)
    interface (C(PUT /agentgateway/resource/recordplay/{agentid}/record)) and returns the recording task id,
    or stops it (C(DELETE .../stoprecord)).
  - Signs the agent in when needed (C(PUT /agentgateway/resource/onlineagent/{agentid})), or uses the session
    given in O(guid) or kept in the session store from an earlier task.
  - Arguments and the request body are checked against a JSON Schema before anything is sent; the schema is
    published as C(docs/schemas/cc_gateway.schema.json) in the collection's repository.
  - B(Sessions.) The GUID comes from, in order, O(guid); the session keeper, when
    M(cec.cc_gateway.cc_gateway_session) keeps the agent alive (the keeper follows GUID rotation); the
    session store; a sign-in.
  - B(Idempotence with a kept agent.) The keeper sees the agent's C(AgentMediaEvent_Record),
    C(AgentMediaEvent_StopRecordDone) and C(AgentOther_ShutdownService) events, so the module knows whether
    the agent records, including recordings stopped outside this collection.
  - B(Idempotence without a keeper.) A recording this collection started is kept in the session store. A re-run of
    O(state=started) for that agent reports C(changed=false) with the known task id, after a read-only check
    that the session is still alive, and sends no second start. When the gateway itself answers C(500-011)
    (the agent already records, started by someone else), the task reports C(changed=false) without a task id.
    A recording that was stopped outside this collection while its session lived is not seen until the next
    O(state=stopped). O(record_mode=append) and O(record_mode=overwrite) behave the same here. Once a
    recording has been stopped, the next start starts a new one, which appends to or overwrites the file by
    its nature.
  - O(state=stopped) needs a session (O(guid) or a stored one); without one it changes nothing and warns,
    since an agent that is not signed in has no recording.
author:
  - cec.cc_gateway maintainers (@cec-collections)
requirements:
  - requests (with urllib3 1.26 or later)
  - jsonschema
  - aiohttp, only where a kept agent's keeper must be started again (see M(cec.cc_gateway.cc_gateway_session))
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
      - Sends nothing that changes the gateway (no sign-in, no start, no stop); a stored session is checked
        with a read-only status query. Reports whether a change would happen.
  diff_mode:
    support: full
    details:
      - Shows the recording state (V(started) or V(stopped)) and task id before and after.
  platform:
    support: full
    platforms: posix
options:
  state:
    description:
      - V(started) makes sure the agent is recording (resuming a recording this collection paused);
        V(stopped) makes sure it is not; V(paused) pauses the running recording
        (C(POST .../pauserecord)), and V(started) resumes it (C(POST .../resumerecord)).
    type: str
    choices: [started, stopped, paused]
    default: started
  wait:
    description:
      - After starting, wait for the gateway's event that the recording really started
        (C(AgentMediaEvent_Record) with the same task id, which also tells the file name the gateway chose and
        where the file is, RV(file_name), RV(location_id), RV(record_id), RV(call_id)),
        and fail if C(AgentMediaEvent_Record_Fail) comes instead.
      - After stopping, wait for C(AgentMediaEvent_StopRecordDone) of the stopped task, which tells
        RV(begin_time) and RV(end_time); fail if it does not come within O(wait_timeout) (the stop itself was
        done, and a re-run stops nothing).
      - Reads the events from the session keeper when the agent is kept
        (M(cec.cc_gateway.cc_gateway_session) with O(cec.cc_gateway.cc_gateway_session#module:keepalive=true));
        otherwise polls the agent's events itself, which consumes them (events of other types are dropped).
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for the event with O(wait=true). Polling the gateway itself may take up to one
        poll hold (about 10 seconds on a real gateway) longer.
      - More than 0, at most 86400.
    type: float
    default: 30
  media_type:
    description:
      - Media type of the recording, sent as C(mediaType). The gateway supports only V(5), ordinary voice.
    type: int
    default: 5
  record_mode:
    description:
      - V(overwrite) (C(recordMode=0)) replaces an existing file of the same name; V(append) (C(recordMode=1))
        adds to it.
    type: str
    choices: [overwrite, append]
    default: overwrite
  record_format:
    description:
      - Format of the recorded file, sent as C(recordFormat).
      - V(default) (0) is the format configured on the recording resource; V(24k_vox) (1), V(32k_vox) (2),
        V(64k_alaw) (3).
      - An environment supports a single format, which must match the UAP's voice playing format.
    type: str
    choices: [default, 24k_vox, 32k_vox, 64k_alaw]
    default: default
  agents:
    description:
      - The batch form. Several agents in one task, worked on concurrently (see O(max_concurrency)); the
        task's other options apply to every agent.
      - Mutually exclusive with O(agent_id). O(password) of the task is used for entries without one;
        O(phone_number), O(guid) and O(file_name) belong to one agent and are given per entry.
      - Returns RV(results), one per agent in the order given, and fails, after working on every agent,
        if any agent failed.
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
      file_name:
        description: Path of this agent's recording file, at most 100 characters.
        type: str
  file_name:
    description:
      - Path of the recording file on the gateway side, at most 100 characters, for example
        V(Y:/15/0/20201119/186/142702.V3).
      - When omitted (or empty) the gateway names the file C(<drive>:\<VDN>\5\<YYYYMMDD>\<workno>\<name>.V3),
        the drive coming from its C(MAPPINGDISK) setting.
    type: str
seealso:
  - name: Starting Voice Recording (Huawei CEC API reference)
    description: The gateway interface this module calls.
    link: https://support.huaweicloud.com/intl/en-us/api-cec/cec_07_0402.html
notes:
  - The GUID of a session the module signs in is kept in the session store (see O(session_dir)) on the host
    that runs the task, readable only by its owner. It never appears in the task result.
  - A start is sent at most once per task. Only connection attempts that provably did not reach the gateway
    are retried; after a timeout or a broken connection the task fails and says the start may have arrived,
    and a re-run is safe (the gateway refuses a second recording with C(500-011)).
  - When the stored GUID has expired (C(100-006) or C(000-003)) and O(password) and O(phone_number) are given,
    the module signs in again once and retries.
"""

EXAMPLES = r"""
- name: Start recording for agent 186 (sign-in happens as needed)
  cec.cc_gateway.cc_gateway_record:
    gateway_url: https://cc-gateway.example.com:8043
    ca_path: /etc/pki/cc-gateway/ca.pem
    agent_id: 186
    password: "{{ agent_password }}"
    phone_number: "70186"
  register: recording

- name: Show the recording task id
  ansible.builtin.debug:
    msg: "Task id {{ recording.task_id }}, also in {{ ansible_facts.cc_gateway_record.task_id }}"

- name: Record into a named file, appending, as 64 kbit/s A-law
  cec.cc_gateway.cc_gateway_record:
    gateway_url: https://cc-gateway.example.com:8043
    agent_id: 186
    password: "{{ agent_password }}"
    phone_number: "70186"
    file_name: Y:/15/0/20201119/186/142702.V3
    record_mode: append
    record_format: 64k_alaw

- name: Use an existing session instead of signing in
  cec.cc_gateway.cc_gateway_record:
    gateway_url: https://cc-gateway.example.com:8043
    agent_id: 186
    guid: "{{ agent_guid }}"

- name: Start many agents in one task, 50 at a time (one result per agent in campaign.results)
  cec.cc_gateway.cc_gateway_record:
    gateway_url: https://cc-gateway.example.com:8043
    password: "{{ agent_password }}"
    max_concurrency: 50
    agents:
      - {agent_id: 101, phone_number: "70101"}
      - {agent_id: 102, phone_number: "70102", file_name: Y:/1/5/20261125/102/campaign.V3}
      - {agent_id: 103, phone_number: "70103", password: "{{ other_password }}"}
  register: campaign

- name: Set the connection once for every module of the collection
  module_defaults:
    group/cec.cc_gateway.cc_gateway:
      gateway_url: https://cc-gateway.example.com:8043
      ca_path: /etc/pki/cc-gateway/ca.pem
      timeout: 10
  block:
    - name: Stop the recording of agent 186
      cec.cc_gateway.cc_gateway_record:
        agent_id: 186
        state: stopped
"""

RETURN = r"""
task_id:
  description:
    - Recording task id from the gateway (C(result.taskId)), as a string.
    - For O(state=stopped), the id of the task that was stopped, when known.
    - Null when unknown, for example a recording the gateway reports (C(500-011)) that this collection
      did not start, or in check mode before a start.
  returned: without O(agents)
  type: str
  sample: "5086"
agent_id:
  description: The agent the task acted on.
  returned: without O(agents)
  type: int
  sample: 186
state:
  description: The recording state the task brought about (or would, in check mode).
  returned: without O(agents)
  type: str
  sample: started
file_name:
  description:
    - The recording's file name (C(fileName)), the one the gateway's C(AgentMediaEvent_Record) gave when the
      event was seen (O(wait=true), or a kept agent whose keeper saw it), else the one sent; null when the
      gateway names the file and its event was not seen.
    - For O(state=stopped), the file of the recording that was stopped, when known, which is what a download of the
      recording's file asks for.
  returned: without O(agents)
  type: str
  sample: Y:/15/0/20201119/186/142702.V3
location_id:
  description:
    - The recording's C(locationId) from C(AgentMediaEvent_Record) (the file server's location; a download in
      CTI pool mode needs it); null when the event was not seen.
  returned: without O(agents)
  type: str
  version_added: 2.1.0
  sample: "256"
record_id:
  description: The recording's C(recordID) from C(AgentMediaEvent_Record); null when the event was not seen.
  returned: without O(agents)
  type: str
  version_added: 2.1.0
  sample: Yc1v1a186d20261125t1427020
call_id:
  description: The C(callId) of the call recorded, from C(AgentMediaEvent_Record); null when not seen.
  returned: without O(agents)
  type: str
  version_added: 2.1.0
  sample: "1764041000-1"
begin_time:
  description:
    - For O(state=stopped), when the stopped recording began (epoch milliseconds, C(beginTime) of
      C(AgentMediaEvent_StopRecordDone)); null when that event was not seen (it is waited for with O(wait=true),
      and looked up once for a kept agent).
  returned: with O(state=stopped), without O(agents)
  type: int
  version_added: 2.1.0
  sample: 1764041000000
end_time:
  description:
    - For O(state=stopped), when the stopped recording ended (epoch milliseconds, C(endTime)); see
      RV(begin_time).
  returned: with O(state=stopped), without O(agents)
  type: int
  version_added: 2.1.0
  sample: 1764041012500
duration:
  description: For O(state=stopped), RV(end_time) minus RV(begin_time) in seconds; null when either is unknown.
  returned: with O(state=stopped), without O(agents)
  type: float
  version_added: 2.1.0
  sample: 12.5
retcode:
  description:
    - Retcode of the gateway's answer to the recording request (V(0) on success, for example V(500-011)
      for a recording that was already running); null when no recording request was sent.
  returned: without O(agents)
  type: str
  sample: "0"
message:
  description: What happened, in a sentence.
  returned: without O(agents)
  type: str
  sample: Recording started (task 5086).
signed_in_again:
  description:
    - True when the agent's session had ended before the start (the keeper saw it end, or the gateway refused
      its GUID and its status query confirmed it) and the module signed the agent in again, with O(password) and
      O(phone_number), to start the recording; a kept agent is kept again on the new session. Also in each entry
      of RV(results).
  returned: when it happened
  type: bool
  version_added: 2.1.0
  sample: true
msg:
  description: With O(agents), how many agents changed, or which failed and why.
  returned: with O(agents)
  type: str
  sample: "20 agents: 20 changed"
results:
  description:
    - With O(agents), one entry per agent in the order given, each with C(agent_id), C(changed),
      C(failed), C(task_id), C(state), C(file_name), C(location_id), C(record_id), C(call_id) (and for
      O(state=stopped) C(begin_time), C(end_time), C(duration)), C(retcode), C(message) (and
      C(signed_in_again)) as above for one agent, and
      C(msg) instead of C(task_id), C(file_name), C(retcode) and C(message) when it failed.
  returned: with O(agents)
  type: list
  elements: dict
  sample: [{"agent_id": 186, "changed": true, "failed": false, "task_id": "5086", "state": "started",
            "file_name": null, "retcode": "0", "message": "Recording started (task 5086)."}]
ansible_facts:
  description: Facts set by the module (with O(agents), of the agents that did not fail).
  returned: always
  type: dict
  contains:
    cc_gateway_record:
      description: The agent, its recording task id and state, for later plays.
      type: dict
      returned: without O(agents)
      sample: {"agent_id": 186, "task_id": "5086", "state": "started"}
    cc_gateway_records:
      description: With O(agents), C(agent_id), C(task_id) and C(state) of every agent that succeeded.
      type: list
      elements: dict
      returned: with O(agents)
      sample: [{"agent_id": 186, "task_id": "5086", "state": "started"}]
"""

from ansible_collections.cec.cc_gateway.plugins.module_utils._module import run_agent_task
from ansible_collections.cec.cc_gateway.plugins.module_utils._options import ONE_AGENT_OR_MANY, record_spec
from ansible_collections.cec.cc_gateway.plugins.module_utils._record import RecordTask


def main() -> None:
    run_agent_task(record_spec(), RecordTask, **ONE_AGENT_OR_MANY)


if __name__ == "__main__":
    main()
