"""Write docs/schemas/cc_gateway.schema.json from the schemas the modules use (run: make schemas)."""

import json
import os
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.environ.get("COLLECTIONS_ROOT", os.path.join(root, ".work")))

from ansible_collections.cec.cc_gateway.plugins.module_utils._api import schemas  # noqa: E402

with open(os.path.join(root, "docs", "schemas", "cc_gateway.schema.json"), "w", encoding="utf-8") as out:
    json.dump(schemas.ALL, out, indent=2)
    out.write("\n")
