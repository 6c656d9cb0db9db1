# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tests' short ways to the keeper's files, through the collection's own protocol."""

from __future__ import annotations

import dataclasses
from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_protocol import (
    KeeperMailbox,
    KeepRequest,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.store import SessionStore


def kept_report(store: SessionStore, gateway_url: str, agent_id: int) -> dict[str, Any] | None:
    """The keeper's report on the agent as a mapping, None when there is none."""
    report = KeeperMailbox(store).report(gateway_url, agent_id)
    return None if report is None else dataclasses.asdict(report)


def request_keep(store: SessionStore, gateway_url: str, agent_id: int, fields: dict[str, Any]) -> None:
    KeeperMailbox(store).request_keep(KeepRequest(gateway_url=gateway_url, agent_id=agent_id, **fields))
