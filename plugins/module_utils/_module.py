# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AnsibleModule every cc_gateway module is built on: it checks the third-party dependencies."""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.cec.cc_gateway.plugins.module_utils._client import REQUESTS_IMPORT_ERROR
from ansible_collections.cec.cc_gateway.plugins.module_utils._schemas import JSONSCHEMA_IMPORT_ERROR


class CCGatewayModule(AnsibleModule):
    def __init__(self, argument_spec: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(argument_spec=argument_spec, **kwargs)
        if REQUESTS_IMPORT_ERROR is not None:
            self.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        if JSONSCHEMA_IMPORT_ERROR is not None:
            self.fail_json(msg=missing_required_lib("jsonschema"), exception=str(JSONSCHEMA_IMPORT_ERROR))
