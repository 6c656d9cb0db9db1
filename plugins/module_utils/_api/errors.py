# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one exception family: whatever keeps an operation from succeeding is a GatewayError whose
str() is the sentence users see; _results.py turns any of them into a task's result, in one place."""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils._api import retcodes

_CREDENTIALS = re.compile(r"(?<=://)[^/\s]*@")


def without_credentials(text: str) -> str:
    """text with the user:password@ part of any URL in it replaced by ***@ (proxy URLs carry them)."""
    return _CREDENTIALS.sub("***@", text)


class GatewayError(Exception):
    """Anything that kept an operation from succeeding; str() is the sentence shown to the user."""


class TransportError(GatewayError):
    """An exchange that failed: kind says how, request_sent whether the gateway may have acted on it.

    kinds: url, certificate, tls, tls_setup, refused, connect_timeout, connect, proxy, wrong_scheme, read_timeout,
    broken, too_large, file_too_large (a streamed file over its caller's limit), not_utf8, http_status, not_json.
    The transport raises it with its reason and how many connection attempts it made; the client says it again
    as a sentence about the request (described()).
    """

    def __init__(
        self, kind: str, reason: str, request_sent: bool, message: str | None = None, attempts: int = 1
    ) -> None:
        reason = without_credentials(reason)
        super().__init__(message or reason)
        self.kind = kind
        self.reason = reason
        self.request_sent = request_sent
        self.attempts = attempts

    def described(self, message: str) -> TransportError:
        return TransportError(self.kind, self.reason, self.request_sent, message, self.attempts)


class ResponseShapeError(GatewayError):
    """The gateway answered JSON that does not have the documented shape."""


class RetcodeError(GatewayError):
    """The gateway answered with a non-zero retcode."""

    def __init__(self, retcode: str, gateway_message: str, agent_id: int, operation: str) -> None:
        text = retcodes.describe(retcode, agent_id, operation)
        if gateway_message:
            text += f" (gateway said: {gateway_message})"
        super().__init__(text)
        self.retcode = retcode
        self.gateway_message = gateway_message


class SchemaViolation(GatewayError, ValueError):
    """A document does not match its schema; the message names the field and the rule.

    problems holds (option, sentence) for each violation: the option is the document's top-level field as
    users know it, "" for a document that is not a task's options (a request body, an answer)."""

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems if problems is not None else [("", message)]


class StoreError(GatewayError):
    """The session store cannot be used safely (wrong owner, permissions, unreadable file, a busy lock)."""


class KeeperError(GatewayError):
    """The session keeper cannot be started, stopped or counted on."""


def causes(exc: BaseException) -> list[BaseException]:
    """exc and what it wraps: requests and urllib3 keep the original error in args, reason and __context__."""
    seen: list[BaseException] = []
    pending: list[Any] = [exc]
    while pending and len(seen) < 20:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or any(current is known for known in seen):
            continue
        seen.append(current)
        pending.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return seen


def innermost(exc: BaseException) -> str:
    found = causes(exc)
    deepest = found[-1] if found else exc
    text = str(deepest) or type(deepest).__name__
    return text if len(text) < 300 else text[:300] + "..."
