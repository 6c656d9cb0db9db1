# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  agent_id:
    description:
      - Agent ID (work number) on the gateway, from 101 to O(max_agent_id) (59999 unless set; up to 999999 from AICC 25.200.0 on).
      - Required unless the module's batch option O(agents) lists the agents instead.
    type: int
  password:
    description:
      - The agent's sign-in password.
      - Needed only when the module has to sign the agent in, that is when neither O(guid) is given nor a
        live session of the agent is in the session store.
    type: str
  phone_number:
    description:
      - The softphone number bound to the agent, sent as C(phonenum) at sign-in.
      - Needed together with O(password).
    type: str
  guid:
    description:
      - GUID of an existing session of the agent (the C(Set-GUID) value of a sign-in, without C(JSESSIONID=)).
      - When given, the module does not sign in; it uses this session.
      - This is a secret, never returned or logged.
      - 1 to 256 letters, digits and C(._~+/=:-) (no space, no line break); anything else is refused before
        any request, without showing the value.
    type: str
  force_login:
    description:
      - What to do when the gateway answers a sign-in with C(100-002) (agent already signed in elsewhere).
      - V(false) fails the task and says so; V(true) signs in forcibly, which ends the other session.
    type: bool
    default: false
  max_concurrency:
    description:
      - With O(agents), how many agents are worked on at once (threads, and HTTP connections in the pool), from
        1 to 256.
      - Requests for one agent are always sent one after the other.
    type: int
    default: 20
  session_dir:
    description:
      - Directory of the session store on the host that runs the task, where GUIDs of sessions the
        module signed in and the recording tasks it started are kept, so later tasks reuse them.
      - Created with owner-only permissions; an existing directory that group or others have access to is made
        owner-only when it is empty and refused when it holds other files.
      - If not set, the value of the E(CC_GATEWAY_SESSION_DIR) environment variable is used, and without it
        C(~/.cache/cec.cc_gateway/sessions) (or below E(XDG_CACHE_HOME)).
    type: path
"""
