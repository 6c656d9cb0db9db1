# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/cec.cc_gateway.cc_gateway) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - cec.cc_gateway.cc_gateway
"""
