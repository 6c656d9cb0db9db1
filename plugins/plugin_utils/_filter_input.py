# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the collection's filters accept as a list: their input checked in one place, refused with the rule."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError


def list_items(value: Any, filter_name: str, rule: str) -> list[Any]:
    """value's items; a string, a dictionary or a scalar is refused, naming the filter and the rule it breaks."""
    if not isinstance(value, Iterable) or isinstance(value, (str, bytes, Mapping)):
        raise AnsibleFilterError(f"{filter_name}: {rule}, not {type(value).__name__}")
    return list(value)
