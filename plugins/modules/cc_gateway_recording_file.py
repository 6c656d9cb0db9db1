#!/usr/bin/python
# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cc_gateway_recording_file
short_description: Fetch a voice recording's file from a Huawei CEC CC-Gateway
version_added: 2.1.0
description:
  - Downloads the file of an agent's voice recording (C(GET /agentgateway/resource/recordfile/{agentid}) with
    C(recordId), C(filetype) and C(locationId)) to O(dest) on the host that runs the task.
  - The file exists on the gateway once the recording has stopped; name it with the C(fileName) of the
    recording's C(AgentMediaEvent_Record) event, which M(cec.cc_gateway.cc_gateway_record) returns as
    C(file_name) with O(cec.cc_gateway.cc_gateway_record#module:wait=true).
  - The agent's session downloads; it comes from where M(cec.cc_gateway.cc_gateway_record) takes it (O(guid), the
    session keeper, the session store, or a sign-in with O(password) and O(phone_number)). A session the gateway
    no longer knows is replaced by one new sign-in, once, when credentials are given.
  - B(Whole or not at all.) The answer is written to a new temporary file beside O(dest) (created exclusively,
    never through a symbolic link, readable only by its owner), given O(mode), and renamed onto O(dest) only
    when the gateway's answer was the whole file. A failure, a file larger than O(max_size), a timeout or a
    broken connection leaves O(dest) as it was and removes the temporary file.
  - The answer is the file only when its C(Content-Type) is C(application/octet-stream) (or C(audio/*)) and its
    bytes are not the gateway's JSON envelope; the gateway's JSON failure (for example C(104-005), the file does
    not exist or its recording is still being written) fails the task with that retcode and its meaning, and
    is never saved as audio.
  - B(Idempotence.) An existing O(dest) is not fetched again unless O(force=true); nothing is sent then, and
    only its mode is brought to O(mode). With O(force=true) the file is fetched again and O(dest) replaced
    only when its bytes differ.
  - O(dest) must be an absolute path in an existing directory. An O(dest) that is a symbolic link, a
    directory or anything but a regular file is refused before anything is sent.
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
      - Sends nothing at all (no sign-in, no download) and writes nothing; predicts whether the file would be
        fetched (O(dest) absent, or O(force=true)) or its mode changed.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
options:
  file_name:
    description:
      - The recording's file on the gateway, as the C(fileName) of its C(AgentMediaEvent_Record) event gives it,
        for example V(Y:/15/0/20201119/186/142702.V3); sent as C(recordId). Not the event's C(recordID).
      - 1 to 255 characters, no control characters. Required without O(agents).
    type: str
  location_id:
    description:
      - The C(locationId) of the recording's C(AgentMediaEvent_Record) event, sent as C(locationId).
      - Required by gateways in CTI pool mode; left out of the request when not given.
      - From 0 to 2147483647.
    type: int
  file_type:
    description:
      - V(agent) (C(filetype=1)), an agent's recording; V(ivr) (C(filetype=2)), an IVR or third-party voice
        message.
    type: str
    choices: [agent, ivr]
    default: agent
  dest:
    description:
      - Absolute path of the file to write on the host that runs the task, in an existing directory the user
        may write. Required without O(agents).
    type: path
  mode:
    description:
      - The permission bits of O(dest), as an octal string (quote it in YAML), for example V('0600') or
        V('0640'). Recordings are personal data, so the default lets only the owner read them.
      - Applied before the file is renamed into place, and to an existing O(dest) that is not fetched again.
    type: raw
    default: '0600'
  force:
    description:
      - Fetch the file again even when O(dest) exists, and replace O(dest) when the bytes differ.
    type: bool
    default: false
  max_size:
    description:
      - The largest file, in bytes, the task accepts. A file announced or found to be larger stops the download
        at once; the task fails and writes nothing.
      - From 1 to 1073741824 (1 GiB). The default is 64 MiB; the gateway's documentation advises against files
        over 30 MB.
    type: int
    default: 67108864
  download_timeout:
    description:
      - Seconds the whole download may take, from the first connection attempt to the file's last byte (plus
        O(timeout) for connecting). O(timeout) bounds each connection attempt and each read.
      - More than 0, at most 3600.
    type: float
    default: 300
  agents:
    description:
      - The batch form. Several files in one task, fetched concurrently (see O(max_concurrency)); the task's
        other options apply to every entry.
      - Mutually exclusive with O(agent_id). O(password) of the task is used for entries without one;
        O(phone_number), O(guid), O(file_name), O(location_id) and O(dest) belong to one entry.
      - Each agent may be listed once, and each O(dest) used once; loop over the task for several files of one
        agent.
      - Returns RV(results), one per entry in the order given, and fails, after working on every entry, if any
        failed.
    type: list
    elements: dict
    suboptions:
      agent_id:
        description: Agent ID, from 101 to O(max_agent_id) (59999 unless set), whose session downloads.
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
        description: The recording's file on the gateway, as for O(file_name).
        type: str
        required: true
      location_id:
        description: The recording's C(locationId), as for O(location_id).
        type: int
      dest:
        description: Absolute path of the file to write, as for O(dest).
        type: path
        required: true
seealso:
  - module: cec.cc_gateway.cc_gateway_record
  - name: Downloading a recording (Huawei CEC API reference)
    description: The gateway interface this module calls.
    link: https://support.huaweicloud.com/intl/en-us/api-cec/cec_07_0455.html
notes:
  - A download holds the agent's lock in the session store while it runs, so other tasks for the same agent wait
    for it (at most 600 seconds).
  - The download is a read; the gateway changes nothing for it. Only connection attempts that provably did not
    reach the gateway are retried within a task; a re-run after a failure downloads the file again from its
    start.
"""

EXAMPLES = r"""
- name: Record agent 186 and fetch the recording
  module_defaults:
    group/cec.cc_gateway.cc_gateway:
      gateway_url: https://cc-gateway.example.com:8043
      ca_path: /etc/pki/cc-gateway/ca.pem
      agent_id: 186
  block:
    - name: Start recording and wait for the gateway's event, which names the file
      cec.cc_gateway.cc_gateway_record:
        password: "{{ agent_password }}"
        phone_number: "70186"
        wait: true
      register: recording

    - name: Stop the recording (the file exists once it has stopped)
      cec.cc_gateway.cc_gateway_record:
        state: stopped

    - name: Fetch the file, readable only by its owner
      cec.cc_gateway.cc_gateway_recording_file:
        file_name: "{{ recording.file_name }}"
        dest: /srv/recordings/186-{{ recording.task_id }}.V3
      register: fetched

    - name: Show its size and SHA-256
      ansible.builtin.debug:
        msg: "{{ fetched.dest }}: {{ fetched.size }} bytes, sha256 {{ fetched.checksum }}"

- name: Fetch a recording of a gateway in CTI pool mode, readable by the group, up to 200 MiB
  cec.cc_gateway.cc_gateway_recording_file:
    gateway_url: https://cc-gateway.example.com:8043
    agent_id: 186
    password: "{{ agent_password }}"
    phone_number: "70186"
    file_name: Y:/15/0/20201119/186/142702.V3
    location_id: 256
    dest: /srv/recordings/142702.V3
    mode: "0640"
    max_size: 209715200
    download_timeout: 900

- name: Fetch several agents' recordings in one task
  cec.cc_gateway.cc_gateway_recording_file:
    gateway_url: https://cc-gateway.example.com:8043
    password: "{{ agent_password }}"
    agents:
      - {agent_id: 101, phone_number: "70101", file_name: "Y:/1/5/20261125/101/1.V3", dest: /srv/recordings/101.V3}
      - {agent_id: 102, phone_number: "70102", file_name: "Y:/1/5/20261125/102/1.V3", dest: /srv/recordings/102.V3}
  register: files
"""

RETURN = r"""
dest:
  description: The path the file was (or would be) written to.
  returned: without O(agents)
  type: str
  sample: /srv/recordings/186-5086.V3
size:
  description: The file's size in bytes; null in check mode when nothing was fetched, and on failure.
  returned: without O(agents)
  type: int
  sample: 163840
checksum:
  description:
    - The SHA-256 (hex) of the file's bytes, as received (or of the existing O(dest) that was not fetched again);
      null in check mode when nothing was fetched, and on failure.
  returned: without O(agents)
  type: str
  sample: 6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b
mode:
  description: The permission bits of O(dest), in octal.
  returned: success, without O(agents)
  type: str
  sample: "0600"
agent_id:
  description: The agent whose session downloaded.
  returned: without O(agents)
  type: int
  sample: 186
file_name:
  description: The recording's file name on the gateway, as given.
  returned: without O(agents)
  type: str
  sample: Y:/15/0/20201119/186/142702.V3
retcode:
  description:
    - Retcode of the gateway's answer to the download (V(0) when the file came), or of its failure, for example
      V(104-005) (the file does not exist, or its recording is still being written); null when no download was
      sent.
  returned: always, without O(agents)
  type: str
  sample: "0"
message:
  description: What happened, in a sentence.
  returned: success, without O(agents)
  type: str
  sample: Fetched Y:/15/0/20201119/186/142702.V3 (163840 bytes) to /srv/recordings/186-5086.V3.
msg:
  description:
    - On failure, what went wrong, the download request that was sent (when one was), that O(dest) was left as it
      was, and what to do. With O(agents), how many entries changed, or which failed and why.
  returned: on failure, or with O(agents)
  type: str
  sample: >-
    104-005: the recording file does not exist, or its recording is still being written (the file exists once
    the recording has stopped) for agent 186 (gateway said: recording file does not exist). The request was GET
    https://cc-gateway.example.com:8043/agentgateway/resource/recordfile/186?recordId=Y%3A%2F15%2F0%2F20201119%2F186%2F142702.V3&filetype=1.
    Nothing was written to /srv/recordings/186-5086.V3. Check file_name (and location_id) ...
signed_in_again:
  description:
    - True when the agent's session had ended and the module signed the agent in again, with O(password) and
      O(phone_number), to download. Also in each entry of RV(results).
  returned: when it happened
  type: bool
  sample: true
results:
  description:
    - With O(agents), one entry per agent in the order given, each with C(agent_id), C(changed), C(failed),
      C(file_name), C(dest), C(size), C(checksum), C(mode), C(retcode) and C(message) as above for one agent, and
      C(msg) instead of C(message) (and without C(size), C(checksum) and C(mode)) when it failed.
  returned: with O(agents)
  type: list
  elements: dict
  sample: [{"agent_id": 101, "changed": true, "failed": false, "file_name": "Y:/1/5/20261125/101/1.V3",
            "dest": "/srv/recordings/101.V3", "size": 163840, "checksum": "6b86b273ff34fce1...", "mode": "0600",
            "retcode": "0", "message": "Fetched Y:/1/5/20261125/101/1.V3 (163840 bytes) to /srv/recordings/101.V3."}]
ansible_facts:
  description: Facts set by the module (with O(agents), of the entries that did not fail).
  returned: success
  type: dict
  contains:
    cc_gateway_recording_file:
      description: The agent, the file name, O(dest), its size and checksum, for later plays.
      type: dict
      returned: without O(agents)
      sample: {"agent_id": 186, "file_name": "Y:/15/0/20201119/186/142702.V3", "dest": "/srv/recordings/186.V3",
               "size": 163840, "checksum": "6b86b273ff34fce1..."}
    cc_gateway_recording_files:
      description: With O(agents), the same for every entry that succeeded.
      type: list
      elements: dict
      returned: with O(agents)
      sample: [{"agent_id": 101, "file_name": "Y:/1/5/20261125/101/1.V3", "dest": "/srv/recordings/101.V3",
                "size": 163840, "checksum": "6b86b273ff34fce1..."}]
"""

from ansible_collections.cec.cc_gateway.plugins.module_utils._module import run_agent_task
from ansible_collections.cec.cc_gateway.plugins.module_utils._options import (
    ONE_AGENT_OR_MANY,
    recording_file_spec,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._recording_file import RecordingFileTask


def main() -> None:
    run_agent_task(recording_file_spec(), RecordingFileTask, **ONE_AGENT_OR_MANY)


if __name__ == "__main__":
    main()
