# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where an exception becomes a result, once for every way a task runs (the shipped module, the controller
path, each agent of a batch), and where no secret is left in a result's texts."""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Iterable
from typing import Any, Callable

from ansible_collections.cec.cc_gateway.plugins.module_utils._api.errors import GatewayError

# Options whose values are secrets: never in a message, whatever a library puts into its exception's text.
SECRET_KEYS = ("password", "guid")
# The texts of a result (and of each of a batch's results) that secrets are scrubbed from.
TEXT_KEYS = ("msg", "message", "warnings", "exception", "session_problem", "session_end_reason")
MASK = "********"


def secret_forms(values: Iterable[Any]) -> list[str]:
    """Every form a library may show a secret in: itself, stripped, inside repr() or ascii() (a header's
    value in requests' errors), inside json.dumps() (a request body), as UTF-8 bytes' repr; longest first."""
    forms: set[str] = set()
    for value in values:
        if not isinstance(value, str) or not value:
            continue
        for text in (value, value.strip()):
            forms.update(
                (
                    text,
                    repr(text)[1:-1],
                    ascii(text)[1:-1],
                    json.dumps(text)[1:-1],
                    json.dumps(text, ensure_ascii=False)[1:-1],
                    repr(text.encode("utf-8", "backslashreplace"))[2:-1],
                )
            )
    return sorted((form for form in forms if form), key=lambda form: (-len(form), form))


def scrub_result(result: dict[str, Any], secrets: Iterable[Any]) -> dict[str, Any]:
    """result with every form of every secret replaced by ******** in its texts and in its results' texts."""
    forms = secret_forms(secrets)
    if not forms:
        return result
    # One pass, longest form first: a mask is never masked again, a form never half-replaced.
    pattern = re.compile("|".join(re.escape(form) for form in forms))

    def clean(text: Any) -> Any:
        return pattern.sub(MASK, text) if isinstance(text, str) else text

    def scrubbed(item: dict[str, Any]) -> dict[str, Any]:
        item = dict(item)
        for key in TEXT_KEYS:
            if key in item:
                value = item[key]
                item[key] = [clean(text) for text in value] if isinstance(value, list) else clean(value)
        return item

    result = scrubbed(result)
    if isinstance(result.get("results"), list):
        result["results"] = [scrubbed(item) if isinstance(item, dict) else item for item in result["results"]]
    return result


def failure(error: BaseException, **fields: Any) -> dict[str, Any]:
    """The result of work that raised error: a GatewayError (the collection's own family: the gateway, the
    transport, the store, the keeper, a schema) is its sentence; anything else is a bug, said with its type and
    traceback. fields (agent_id) go into the result."""
    result: dict[str, Any] = {"failed": True, "changed": False}
    if isinstance(error, GatewayError):
        result["msg"] = str(error)
    else:
        where = f" for agent {fields['agent_id']}" if fields.get("agent_id") is not None else ""
        result["msg"] = f"Unexpected {type(error).__name__}{where}: {error}"
        result["exception"] = traceback.format_exc()
    result.update(fields)
    return result


def outcome_of(work: Callable[[], dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """work()'s result, or the failure it raised as a result."""
    try:
        return work()
    except Exception as exc:  # turned into a result here, and only here
        return failure(exc, **fields)
