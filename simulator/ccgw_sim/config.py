"""Simulator settings (the basic.properties subset) and the agent roster."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .faults import FaultError, shape_setting, standing_shape

AGENT_ID_MIN = 101
AGENT_ID_MAX = 59999  # the default upper bound (the seed's and older gateways' range)
AGENT_ID_CEILING = 999999  # AICC 25.200.0 and later
DEFAULT_AGENTS = "101-120,186-195"
DEFAULT_PASSWORD = "Demo-1234"
INSPECTOR_MODES = ("insert", "listen", "whisper")
BYTES_PER_SECOND_MAX = 1 << 30


class ConfigError(ValueError):
    pass


@dataclass
class Settings:
    auth_mode: int = 2
    guid_interval_ms: int = 60000
    guid_timeout_ms: int = 120000
    selfrecord: bool = True
    mapping_disk: str = "Y"
    poll_hold: float = 2.0
    heartbeat_timeout: float = 120.0
    signin_delay: float = 0.0
    max_agent_id: int = AGENT_ID_MAX
    answer_shape: dict[str, Any] | None = None
    record_bytes_per_second: int | None = None
    download_enabled: bool = True
    cti_pool: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def copy(self) -> Settings:
        return dataclasses.replace(self)

    def update(self, changes: dict[str, Any]) -> None:
        """Validate every key first, then apply all of them (all or nothing)."""
        validated = {key: _validate_setting(key, value) for key, value in changes.items()}
        for key, value in validated.items():
            setattr(self, key, value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _validate_setting(key: str, value: Any) -> Any:
    if key == "auth_mode":
        if value not in (1, 2) or isinstance(value, bool):
            raise ConfigError("auth_mode must be 1 or 2")
        return int(value)
    if key in ("guid_interval_ms", "guid_timeout_ms"):
        if not _is_number(value) or value <= 0:
            raise ConfigError(f"{key} must be a positive number of milliseconds")
        return int(value)
    if key in ("selfrecord", "download_enabled", "cti_pool"):
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be a boolean")
        return value
    if key == "record_bytes_per_second":
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= BYTES_PER_SECOND_MAX
        ):
            raise ConfigError(
                f"record_bytes_per_second must be null (by recordFormat) or an integer 1-{BYTES_PER_SECOND_MAX}"
            )
        return value
    if key == "mapping_disk":
        if not isinstance(value, str) or len(value) != 1 or not value.isalpha():
            raise ConfigError("mapping_disk must be one drive letter")
        return value.upper()
    if key == "poll_hold":
        if not _is_number(value) or value < 0:
            raise ConfigError("poll_hold must be a number of seconds >= 0 (0: empty polls answered at once)")
        return float(value)
    if key == "heartbeat_timeout":
        if not _is_number(value) or value <= 0:
            raise ConfigError("heartbeat_timeout must be a positive number of seconds")
        return float(value)
    if key == "signin_delay":
        if not _is_number(value) or value < 0:
            raise ConfigError("signin_delay must be a number of seconds >= 0")
        return float(value)
    if key == "max_agent_id":
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not AGENT_ID_MIN <= value <= AGENT_ID_CEILING
        ):
            raise ConfigError(f"max_agent_id must be an integer {AGENT_ID_MIN}-{AGENT_ID_CEILING}")
        return value
    if key == "answer_shape":
        return _answer_shape(value)
    raise ConfigError(f"unknown setting {key!r}")


def _scalar(text: str) -> Any:
    """A value of the short shape form: a JSON number, true, false, null or "string", else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_shape_option(text: str) -> Any:
    """`none`, a JSON object, or the short form `KIND[:key=value[,key=value...]]`."""
    text = text.strip()
    if text.lower() == "none":
        return None
    if text.startswith("{"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"answer_shape: not JSON: {exc}") from exc
    kind, _, rest = text.partition(":")
    spec: dict[str, Any] = {"kind": kind.strip()}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"answer_shape: {item!r} is not key=value")
        spec[key.strip()] = _scalar(value.strip())
    return spec


def _answer_shape(value: Any) -> dict[str, Any] | None:
    """The shape of every (matching) gateway answer; null for none. Stored with its defaults filled in."""
    if isinstance(value, str):
        value = parse_shape_option(value)
    if value is None:
        return None
    try:
        return shape_setting(standing_shape(value))
    except FaultError as exc:
        raise ConfigError(f"answer_shape: {exc}") from exc


@dataclass
class AgentSpec:
    agent_id: int
    password: str
    phone: str
    vdn: int = 1
    inspector_mode: str | None = None


def parse_agent_ranges(text: str, max_id: int = AGENT_ID_MAX) -> list[int]:
    """'101-120,186-195' -> [101, ..., 120, 186, ..., 195]; every id within 101-max_id."""
    ids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            start = int(low)
            end = int(high) if high else start
        except ValueError as exc:
            raise ConfigError(f"bad agent range {part!r}") from exc
        if start > end or start < AGENT_ID_MIN or end > max_id:
            raise ConfigError(f"agent range {part!r} must lie within {AGENT_ID_MIN}-{max_id}")
        ids.extend(range(start, end + 1))
    if not ids:
        raise ConfigError("the agent roster is empty")
    return ids


def default_phone(agent_id: int) -> str:
    return f"70{agent_id}"


def roster_from_ids(ids: list[int], password: str) -> dict[int, AgentSpec]:
    return {i: AgentSpec(agent_id=i, password=password, phone=default_phone(i)) for i in ids}


def _agent_from_yaml(item: Any, password: str, max_id: int) -> AgentSpec:
    if not isinstance(item, dict) or "id" not in item:
        raise ConfigError(f"agent entry needs an 'id': {item!r}")
    try:
        agent_id = int(item["id"])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad agent id {item['id']!r}") from exc
    if not AGENT_ID_MIN <= agent_id <= max_id:
        raise ConfigError(f"agent id {agent_id} outside {AGENT_ID_MIN}-{max_id}")
    mode = item.get("inspector_mode")
    if mode is not None and mode not in INSPECTOR_MODES:
        raise ConfigError(f"agent {agent_id}: inspector_mode must be one of {INSPECTOR_MODES} or null")
    return AgentSpec(
        agent_id=agent_id,
        password=str(item.get("password", password)),
        phone=str(item.get("phone", default_phone(agent_id))),
        vdn=int(item.get("vdn", 1)),
        inspector_mode=mode,
    )


_YAML_KEYS = {
    "AUTHMODE": "auth_mode",
    "GUIDINTERVAL": "guid_interval_ms",
    "GUIDTIMEOUT": "guid_timeout_ms",
    "IF_ENABLE_AGENT_SELFRECORD": "selfrecord",
    "MAPPINGDISK": "mapping_disk",
    "poll_hold": "poll_hold",
    "heartbeat_timeout": "heartbeat_timeout",
    "signin_delay": "signin_delay",
    "max_agent_id": "max_agent_id",
    "answer_shape": "answer_shape",
    "record_bytes_per_second": "record_bytes_per_second",
    "download_enabled": "download_enabled",
    "cti_pool": "cti_pool",
}
BOOLEAN_SETTINGS = ("selfrecord", "download_enabled", "cti_pool")


def _yaml_bool(value: Any) -> Any:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


# basic.properties' long-poll hold: AGENT_POLL_WAIT_FLAG (ON/OFF), AGENT_POLL_WAIT_TIMES (count) and
# AGENT_POLL_WAIT_INTERVAL (ms), with a real gateway's defaults ON, 100, 100 (a 10 s hold).
POLL_WAIT_KEYS = ("AGENT_POLL_WAIT_FLAG", "AGENT_POLL_WAIT_TIMES", "AGENT_POLL_WAIT_INTERVAL")
POLL_WAIT_DEFAULTS: dict[str, Any] = {
    "AGENT_POLL_WAIT_FLAG": True,
    "AGENT_POLL_WAIT_TIMES": 100,
    "AGENT_POLL_WAIT_INTERVAL": 100,
}


def poll_hold_from_properties(values: dict[str, Any]) -> float:
    """poll_hold in seconds = FLAG ? TIMES * INTERVAL / 1000 : 0; missing keys take the gateway defaults."""
    merged = {**POLL_WAIT_DEFAULTS, **values}
    flag = merged["AGENT_POLL_WAIT_FLAG"]
    if isinstance(flag, str) and flag.strip().upper() in ("ON", "OFF", "TRUE", "FALSE"):
        flag = flag.strip().upper() in ("ON", "TRUE")
    if not isinstance(flag, bool):  # YAML 1.1 already reads a bare ON/OFF as a boolean
        raise ConfigError("AGENT_POLL_WAIT_FLAG must be ON or OFF")
    numbers = []
    for key in ("AGENT_POLL_WAIT_TIMES", "AGENT_POLL_WAIT_INTERVAL"):
        value = merged[key]
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{key} must be an integer >= 0")
        numbers.append(value)
    return numbers[0] * numbers[1] / 1000.0 if flag else 0.0


@dataclass
class FileConfig:
    settings: dict[str, Any] = field(default_factory=dict)
    agents: list[Any] | None = None


def load_yaml(path: str | Path) -> FileConfig:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    result = FileConfig()
    poll_wait: dict[str, Any] = {}
    for key, value in data.items():
        if key in POLL_WAIT_KEYS:
            poll_wait[key] = value
        elif key == "agents":
            if not isinstance(value, list):
                raise ConfigError("'agents' must be a list")
            result.agents = value
        elif key in _YAML_KEYS:
            name = _YAML_KEYS[key]
            result.settings[name] = _yaml_bool(value) if name in BOOLEAN_SETTINGS else value
        else:
            raise ConfigError(f"{path}: unknown key {key!r}")
    if poll_wait:
        if "poll_hold" in result.settings:
            raise ConfigError(f"{path}: give either poll_hold or the AGENT_POLL_WAIT_* keys, not both")
        result.settings["poll_hold"] = poll_hold_from_properties(poll_wait)
    return result


def build_roster(
    file_agents: list[Any] | None, ranges: str | None, password: str, max_id: int = AGENT_ID_MAX
) -> dict[int, AgentSpec]:
    """--agents wins over the file's agents, which win over the default roster (ids within 101-max_id)."""
    if ranges is not None:
        return roster_from_ids(parse_agent_ranges(ranges, max_id), password)
    if file_agents is not None:
        specs = [_agent_from_yaml(item, password, max_id) for item in file_agents]
        if not specs:
            raise ConfigError("the agent roster is empty")
        return {spec.agent_id: spec for spec in specs}
    return roster_from_ids(parse_agent_ranges(DEFAULT_AGENTS, max_id), password)
