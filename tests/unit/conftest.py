# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Temporary files of the unit tests go under the collection's tests/output, not the system's /tmp.

ansible-test passes no TMPDIR on to pytest, so the tests' temporary directory is set here.
"""

from __future__ import annotations

import os
import tempfile

OUTPUT_TMP = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "output", ".tmp", "unit-tmp"
)


def pytest_configure(config):
    os.makedirs(OUTPUT_TMP, mode=0o700, exist_ok=True)
    os.environ["TMPDIR"] = OUTPUT_TMP
    tempfile.tempdir = None  # computed again from TMPDIR
    if not config.option.basetemp:
        config.option.basetemp = os.path.join(OUTPUT_TMP, "pytest")
