# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
# action, async and bypass_host_loop get their descriptions from ansible.builtin.action_common_attributes.flow,
# which the modules extend too.
attributes:
  action:
    support: full
    details:
      - On the controller (the task's host is the controller, without C(become)) the action plugin runs the task
        itself; otherwise it ships the module to the host.
  async:
    support: full
    details:
      - An C(async) task is always shipped to the host and run there in the background by C(async_wrapper),
        with C(poll) or with C(poll=0) and C(ansible.builtin.async_status).
  bypass_host_loop:
    support: none
  action_group:
    description: Use C(group/cec.cc_gateway.cc_gateway) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - cec.cc_gateway.cc_gateway
"""
