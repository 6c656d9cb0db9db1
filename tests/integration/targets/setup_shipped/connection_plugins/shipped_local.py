# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local connection under another name, for the integration tests only.

The collection's action plugins run a module's logic in the controller's process when a task's connection is
ansible.builtin.local without become, and ship the module (AnsiballZ) otherwise, as to a remote host. A task with
`ansible_connection: shipped_local` is run on this machine as the same user, but shipped: what a remote runner
gets, tested by any user (become with su to the same user asks a user other than root for a password).
"""

from __future__ import annotations

from ansible.plugins.connection.local import Connection as LocalConnection

DOCUMENTATION = r"""
name: shipped_local
short_description: The local connection, which the action plugins of cec.cc_gateway do not take for the controller
description:
  - Runs commands on the controller as the local connection does; a cec.cc_gateway action plugin ships its module
    through it as to a remote host.
author: cec.cc_gateway contributors
options:
  become_success_timeout:
    type: int
    default: 10
    description: As the local connection's (ansible-core 2.19 and later read it when become is used).
    vars:
      - name: ansible_local_become_success_timeout
  become_strip_preamble:
    type: bool
    default: true
    description: As the local connection's (ansible-core 2.19 and later read it when become is used).
    vars:
      - name: ansible_local_become_strip_preamble
extends_documentation_fragment:
  - connection_pipelining
"""


class Connection(LocalConnection):
    transport = "shipped_local"
