# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CC-Gateway result codes and the sentences users see for them."""

from __future__ import annotations

SUCCESS = "0"

# Codes that mean "this GUID no longer opens a session": sign in again when credentials are at hand.
SESSION_LOST = frozenset({"100-006", "000-003"})
ALREADY_SIGNED_IN = "100-002"
# A GUID the gateway does not know (any more); also "self-recording is off" on a start.
STALE_GUID = "000-003"
ALREADY_RECORDING = "500-011"
NO_RECORDING_TASK = "100-007"
CANNOT_PAUSE = "500-004"
CANNOT_RESUME = "500-006"
RECORD_FILE_MISSING = "104-005"
# The playback state errors (section 7.4 of the API notes): what each means is decided in _play.py.
CANNOT_PAUSE_PLAYBACK = "500-003"
CANNOT_RESUME_PLAYBACK = "500-005"
CANNOT_START_PLAYBACK = "500-007"
CANNOT_STOP_PLAYBACK = "500-009"

MEANINGS: dict[str, str] = {
    "000-001": "events were fetched the wrong way",
    "000-002": "a URL parameter or a request field is invalid",
    "000-003": "no permission to call the interface, or the agent's authentication (GUID) has expired",
    "000-004": "the agent is being switched over to the standby gateway",
    "000-005": "the inspected agent is the inspector themself",
    "000-006": "a message parameter is wrong",
    "000-007": "the interface was invoked again before the previous call answered",
    "100-001": "sign-in parameters are empty or invalid",
    "100-002": "the agent is already signed in",
    "100-003": "the gateway's resource or provider was unavailable during sign-in",
    "100-004": "wrong agent password",
    "100-005": "invalid sign-out parameters",
    "100-006": "the agent is not signed in",
    "100-007": "the gateway hit an exception during the agent operation",
    "100-008": "the agent is already signed out",
    "100-009": "the agent state could not be set",
    "100-010": "the agent is in the wrong state to sign out",
    "100-011": "invalid sign-in parameter",
    "100-012": "wrong agent type at sign-in",
    "100-013": "the bound phone number is invalid",
    "100-014": "the sign-in phone number is outside the configured range",
    "100-015": "the agent is signed in elsewhere and cannot be forced out",
    "100-016": "invalid IP address at sign-in",
    "100-017": "uPortal authentication failed",
    "100-020": "the agent's password has expired",
    "100-021": "a sign-in for this agent is already in progress",
    "104-001": "recording download is not enabled on the gateway",
    "104-002": "no right to quality-check, download or play recordings",
    "104-003": "the recording file name is invalid",
    "104-004": "no drive mapping is configured for the recording's drive",
    "104-005": "the recording file does not exist",
    "104-006": "the gateway has not enough disk space",
    "104-007": "the recording's format is not supported",
    "104-008": "the recording format parameter is not configured",
    "104-009": "the recording's format conversion failed",
    "104-010": "the recording node id is not configured",
    "104-011": "deleting the recording failed",
    "104-012": "downloading the recording from OBS failed",
    "105-006": "the GUID does not match after a disaster-recovery switchover; sign in again",
    "110-016": "the agent account is locked",
    "500-001": "the agent is in the wrong state to rewind playback",
    "500-002": "the agent is in the wrong state to fast-forward playback",
    "500-003": "the agent is in the wrong state to pause playback",
    "500-004": "the agent is in the wrong state to pause recording",
    "500-005": "the agent is in the wrong state to resume playback",
    "500-006": "the agent is in the wrong state to resume recording",
    "500-007": "the agent is in the wrong state to start playback",
    "500-008": "the agent is in a state where recording cannot start "
    "(an inspector in insert, listen or whisper mode, or a call that forbids it)",
    "500-009": "the agent is in the wrong state to stop playback",
    "500-011": "the agent already has a recording task",
    "999-001": "the gateway's server configuration is wrong (invalid WAS URL)",
}

# Where a retcode means more than its table text in a given operation, say so.
_OPERATION_MEANINGS: dict[tuple[str, str], str] = {
    (
        "start_recording",
        "000-003",
    ): "no permission to start recording (IF_ENABLE_AGENT_SELFRECORD may be off), "
    "or the agent's GUID has expired",
    ("stop_recording", "100-007"): "the agent has no recording task to stop",
    ("pause_recording", "500-004"): "the agent has no running recording to pause",
    ("resume_recording", "500-006"): "the agent has no paused recording to resume",
    (
        "start_playback",
        "500-007",
    ): "the agent is in the wrong state to start playback (a playback, playing or "
    "paused, or a recording is running)",
    (
        "start_playback",
        "000-002",
    ): "a field of the play request is invalid (voice_path, start_position, times or location_id)",
    ("pause_playback", "500-003"): "the agent has no playing playback to pause (none, or it is paused)",
    ("resume_playback", "500-005"): "the agent has no paused playback to resume",
    ("stop_playback", "500-009"): "the agent has no playback to stop",
    ("download_recording", "104-005"): "the recording file does not exist, or its recording is still "
    "being written (the file exists once the recording has stopped)",
    ("download_recording", "000-002"): "a parameter of the download is invalid (file_name, file_type, or "
    "location_id, which CTI pool mode requires)",
    (
        "download_recording",
        "000-003",
    ): "no permission to download recordings, or the agent's GUID has expired",
}


def describe(retcode: str, agent_id: int | None = None, operation: str | None = None) -> str:
    """Return '<code>: <meaning> for agent <id>' for a gateway retcode."""
    meaning = _OPERATION_MEANINGS.get((operation or "", retcode)) or MEANINGS.get(retcode)
    if meaning is None:
        meaning = "an error code this collection does not know"
    text = f"{retcode}: {meaning}"
    if agent_id is not None:
        text += f" for agent {agent_id}"
    return text
