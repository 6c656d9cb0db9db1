#!/usr/bin/python
# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cc_gateway_play
short_description: Play a voice file to an agent on a Huawei CEC CC-Gateway, pause or stop the playback
version_added: 2.1.0
description:
  - Plays a voice file (a recording on the gateway's file server) to a contact-center agent through the
    CC-Gateway I(Playing Voice) interface (C(PUT /agentgateway/resource/recordplay/{agentid}/play)); pauses
    (C(POST .../pauseplay)), resumes (C(POST .../resumeplay)) or stops (C(DELETE .../stopplay)) the playback.
  - Signs the agent in when needed (C(PUT /agentgateway/resource/onlineagent/{agentid})), or uses the session
    given in O(guid), kept by the session keeper, or kept in the session store from an earlier task, as
    M(cec.cc_gateway.cc_gateway_record) does.
  - Arguments and the request body are checked against a JSON Schema before anything is sent; the schema is
    published as C(docs/schemas/cc_gateway.schema.json) in the collection's repository.
  - B(Idempotence with a kept agent.) When M(cec.cc_gateway.cc_gateway_session) keeps the agent alive, the
    keeper follows the agent's playback from its events (C(AgentMediaEvent_Play_Succ) and C(AgentMediaEvent_Play)
    mean playing, C(AgentMediaEvent_PausePlayDone) paused, C(AgentMediaEvent_ResumePlayDone) playing again,
    C(AgentMediaEvent_Play_Fail) and C(AgentMediaEvent_StopPlayDone) stopped; the end of the session ends the
    playback). The newer of the keeper's last playback event and this collection's own last playback request
    decides (the keeper may not yet have seen the events of that request). An agent already in the wanted state
    gets no request and the task reports C(changed=false); pausing an agent whose events show no playback fails.
  - B(Idempotence without a keeper.) No gateway interface tells whether an agent plays, so the request is sent
    and the gateway's state errors decide. O(state=started) sends the start; C(500-007) (the agent cannot start a
    playback, since one runs) is followed by a resume, which either resumes a paused playback (C(changed=true)) or is
    refused with C(500-005) (the playback plays already, so C(changed=false) and nothing else is sent). When this
    collection paused the playback last, the resume is sent first and a start only if it is refused with
    C(500-005). O(state=paused) sends the pause; C(500-003) means the playback is paused already or none runs
    (the gateway does not say which) and is reported as C(changed=false), not as a failure. O(state=stopped)
    sends the stop; C(500-009) (no playback) is C(changed=false).
  - C(500-007) also answers a start while the agent records. When this collection knows of that recording (it
    started it, or the keeper saw it), the task fails and says so instead of reporting the agent as playing.
  - O(state=paused) and O(state=stopped) need a session (O(guid), a kept or a stored one). Without one, pausing
    fails and stopping changes nothing and warns, since an agent that is not signed in plays nothing.
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
      - Sends nothing that changes the gateway (no sign-in, no start, pause, resume or stop); a stored session is
        checked with a read-only status query. Predicts C(changed) from the keeper's events for a kept agent,
        otherwise from what this collection last did (a start is predicted to change unless this collection
        started or resumed the playback last and the agent is kept; a pause unless this collection paused it
        last; a stop only when a playback is known).
  diff_mode:
    support: full
    details:
      - Shows the playback (V(playing), V(paused), V(stopped), or V(unknown) without a keeper) before and after.
  platform:
    support: full
    platforms: posix
options:
  state:
    description:
      - V(started) makes sure the voice file plays to the agent (resuming a paused playback);
        V(paused) pauses the playback; V(stopped) makes sure nothing plays.
    type: str
    choices: [started, paused, stopped]
    default: started
  voice_path:
    description:
      - Path of the voice file on the gateway's file server, sent as C(voicepath), for example the C(file_name)
        M(cec.cc_gateway.cc_gateway_record) returns (V(Y:/15/0/20201119/186/142702.V3)).
      - 1 to 100 characters, no control characters. Required with O(state=started); not used otherwise.
      - With O(agents), the file of every entry that names none of its own.
    type: str
  times:
    description:
      - How many times the file is played, sent as C(times); at least 1. The gateway documents that values other
        than 1 are treated as 1.
    type: int
    default: 1
  start_position:
    description:
      - Where in the file the playback starts, in seconds, sent as C(startpostion) (Huawei's spelling); 0 or more.
    type: int
    default: 0
  location_id:
    description:
      - The file server's location of the voice file, sent as C(locationId) (the RV(cec.cc_gateway.cc_gateway_record#module:location_id)
        of its recording); needed in CTI pool mode. 0 or more; not sent when omitted.
      - With O(agents), the location of every entry that names none of its own.
    type: int
  wait:
    description:
      - After starting, wait for the gateway's event that the playback really started (C(AgentMediaEvent_Play_Succ)),
        and fail with the event's reason if C(AgentMediaEvent_Play_Fail) comes instead (a file the gateway cannot
        play is refused this way, after the start itself was answered with success).
      - Fails, naming O(wait_timeout), when neither comes in time; the start was sent and a re-run starts no
        second playback.
      - Only a start is waited for. Reads the events from the session keeper when the agent is kept; otherwise
        polls the agent's events itself, which consumes them (events of other types are dropped).
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for the event with O(wait=true). Polling the gateway itself may take up to one
        poll hold (about 10 seconds on a real gateway) longer.
      - More than 0, at most 86400.
    type: float
    default: 30
  agents:
    description:
      - The batch form. Several agents in one task, worked on concurrently (see O(max_concurrency)); the
        task's other options apply to every agent.
      - Mutually exclusive with O(agent_id). O(password), O(voice_path) and O(location_id) of the task are used
        for entries without their own; O(phone_number) and O(guid) belong to one agent and are given per entry.
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
      voice_path:
        description: The voice file played to this agent, 1 to 100 characters.
        type: str
      location_id:
        description: The file server's location of this agent's voice file.
        type: int
seealso:
  - module: cec.cc_gateway.cc_gateway_record
  - module: cec.cc_gateway.cc_gateway_session
  - name: Playing Voice (Huawei CEC API reference)
    description: The gateway interface this module calls.
    link: https://support.huaweicloud.com/intl/en-us/api-cec/cec_07_0394.html
notes:
  - A start is sent at most once per task. Only connection attempts that provably did not reach the gateway
    are retried; after a timeout or a broken connection the task fails and says the start may have arrived, and
    a re-run is safe (the gateway refuses a second playback with C(500-007)).
  - When the session's GUID has expired (C(100-006) or C(000-003)) and O(password) and O(phone_number) are
    given, the module signs in again once and retries the start; a pause, resume or stop is not retried on a new
    session, which has no playback.
  - The gateway rings the agent's phone and plays once it is answered (outside a call).
"""

EXAMPLES = r"""
- name: Play a recording to agent 186 and wait until it really plays
  cec.cc_gateway.cc_gateway_play:
    gateway_url: https://cc-gateway.example.com:8043
    ca_path: /etc/pki/cc-gateway/ca.pem
    agent_id: 186
    password: "{{ agent_password }}"
    phone_number: "70186"
    voice_path: Y:/15/0/20201119/186/142702.V3
    start_position: 5
    wait: true

- name: Pause the playback
  cec.cc_gateway.cc_gateway_play:
    gateway_url: https://cc-gateway.example.com:8043
    agent_id: 186
    state: paused

- name: Resume it (a paused playback is resumed, not started again)
  cec.cc_gateway.cc_gateway_play:
    gateway_url: https://cc-gateway.example.com:8043
    agent_id: 186
    voice_path: Y:/15/0/20201119/186/142702.V3

- name: Stop the playback
  cec.cc_gateway.cc_gateway_play:
    gateway_url: https://cc-gateway.example.com:8043
    agent_id: 186
    state: stopped

- name: Play one file to many agents in one task (one result per agent in briefing.results)
  cec.cc_gateway.cc_gateway_play:
    gateway_url: https://cc-gateway.example.com:8043
    password: "{{ agent_password }}"
    voice_path: Y:/1/0/20261125/100/briefing.V3
    location_id: 256
    agents:
      - {agent_id: 101, phone_number: "70101"}
      - {agent_id: 102, phone_number: "70102", voice_path: Y:/1/0/20261125/102/other.V3}
  register: briefing
"""

RETURN = r"""
agent_id:
  description: The agent the task acted on.
  returned: without O(agents)
  type: int
  sample: 186
state:
  description: The playback state the task brought about (or would, in check mode).
  returned: without O(agents)
  type: str
  sample: started
voice_path:
  description: With O(state=started), the voice file asked for; null otherwise.
  returned: without O(agents)
  type: str
  sample: Y:/15/0/20201119/186/142702.V3
retcode:
  description:
    - Retcode of the gateway's answer to the last playback request (V(0) on success, a state error such as
      V(500-009) when the agent was already in the wanted state); null when no playback request was sent.
  returned: without O(agents)
  type: str
  sample: "0"
message:
  description: What happened, in a sentence.
  returned: without O(agents)
  type: str
  sample: Playback of Y:/15/0/20201119/186/142702.V3 to agent 186 started.
signed_in_again:
  description:
    - True when the agent's session had ended before the start and the module signed the agent in again, with
      O(password) and O(phone_number), to start the playback. Also in each entry of RV(results).
  returned: when it happened
  type: bool
  sample: true
msg:
  description: With O(agents), how many agents changed, or which failed and why.
  returned: with O(agents)
  type: str
  sample: "20 agents: 20 changed"
results:
  description:
    - With O(agents), one entry per agent in the order given, each with C(agent_id), C(changed), C(failed),
      C(state), C(voice_path), C(retcode), C(message) (and C(signed_in_again)) as above for one agent, and C(msg)
      instead of C(voice_path), C(retcode) and C(message) when it failed.
  returned: with O(agents)
  type: list
  elements: dict
  sample: [{"agent_id": 186, "changed": true, "failed": false, "state": "started",
            "voice_path": "Y:/15/0/20201119/186/142702.V3", "retcode": "0",
            "message": "Playback of Y:/15/0/20201119/186/142702.V3 to agent 186 started."}]
ansible_facts:
  description: Facts set by the module (with O(agents), of the agents that did not fail).
  returned: always
  type: dict
  contains:
    cc_gateway_play:
      description: The agent and its playback state.
      type: dict
      returned: without O(agents)
      sample: {"agent_id": 186, "state": "started"}
    cc_gateway_plays:
      description: With O(agents), C(agent_id) and C(state) of every agent that succeeded.
      type: list
      elements: dict
      returned: with O(agents)
      sample: [{"agent_id": 186, "state": "started"}]
"""

from ansible_collections.cec.cc_gateway.plugins.module_utils._module import run_agent_task
from ansible_collections.cec.cc_gateway.plugins.module_utils._options import ONE_AGENT_OR_MANY, play_spec
from ansible_collections.cec.cc_gateway.plugins.module_utils._play import PlayTask


def main() -> None:
    run_agent_task(play_spec(), PlayTask, **ONE_AGENT_OR_MANY)


if __name__ == "__main__":
    main()
