# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hypothesis settings every property test of the collection uses."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    # The same examples on every run: CI stays reproducible; raise max_examples locally to explore.
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
