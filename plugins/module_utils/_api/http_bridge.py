# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A large batch's exchanges on aiohttp: Transport's request(), for threads, on an event loop of the batch's own.

A batch of agents spends most of its CPU in requests: 1,000 agents' sign-in and start (2,000 exchanges) on 32
threads took 1.7 s of CPU through http_sync's Transport, 0.6 s through this bridge to the keeper's aiohttp
transport (docs/benchmarks.md). The agents' threads keep their logic and their order of calls; only the
exchange runs on the loop. The same Route, the same failure kinds, the same at-most-once rule: only an attempt
that failed before anything was sent is made again. Importing aiohttp costs about 0.1 s, so only batches large
enough to win it back use the bridge (_batch.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import threading
from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils._api.errors import TransportError
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.http_async import (
    AsyncTransport,
    backoff_seconds,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.http_sync import (
    CONNECT_RETRIES,
    Answer,
    transport_for,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.route import Route

# Beyond aiohttp's own limits on the exchange: the loop is late, never the gateway.
WAIT_SLACK = 5.0
CLOSE_WAIT = 10.0
ATTEMPTS = CONNECT_RETRIES + 1
BACKOFFS = sum(backoff_seconds(attempt) for attempt in range(1, ATTEMPTS))


class LoopTransport:
    """Transport's request() for many threads, run on one event loop thread with one aiohttp session."""

    def __init__(self, route: Route, pool_size: int = 10) -> None:
        """pool_size: of the requests transport that streams large answers (stream())."""
        self.route = route
        self.pool_size = pool_size
        self._transport = AsyncTransport(route, probe_scheme=True)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="cc_gateway-http", daemon=True)
        self._thread.start()

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None = None,
        cookies: dict[str, str] | None = None,
        timeout: float | tuple[float, float] = 30.0,
    ) -> Answer:
        """One exchange with the gateway; raises TransportError, as Transport.request does."""
        connect_timeout, answer_timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        exchange = self._transport.request(
            method,
            path,
            headers,
            cookies,
            (connect_timeout, answer_timeout),
            body=body,
            connect_retries=CONNECT_RETRIES,
        )
        future = asyncio.run_coroutine_threadsafe(exchange, self._loop)
        try:
            return future.result(ATTEMPTS * (connect_timeout + answer_timeout) + BACKOFFS + WAIT_SLACK)
        except concurrent.futures.TimeoutError:
            if not future.cancel() and future.done():
                return future.result()  # it ended as the wait did: its answer (a GUID, maybe) is not lost
            raise TransportError(
                "read_timeout", f"no whole answer within {answer_timeout:g} s", request_sent=True
            ) from None

    def stream(self, *args: Any, **kwargs: Any) -> Answer:
        """A large answer (a recording file) is streamed to its sink by requests, as without the bridge."""
        return transport_for(self.route, self.pool_size).stream(*args, **kwargs)

    def close(self) -> None:
        """Close the connections and end the loop's thread (waits at most CLOSE_WAIT seconds for each)."""
        if self._loop.is_closed():
            return
        closing = asyncio.run_coroutine_threadsafe(self._transport.close(), self._loop)
        try:
            closing.result(CLOSE_WAIT)
        except Exception:  # the connections' end is best effort; the loop's end is not
            closing.cancel()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(CLOSE_WAIT)
            if not self._thread.is_alive():
                self._loop.close()


def bridge_for(route: Route, pool_size: int = 10) -> LoopTransport | None:
    """A LoopTransport for the route, or None where requests does the work: aiohttp not importable or older than
    3.11 (it tells some failures apart otherwise), or an https:// proxy on a Python before 3.11 (whose asyncio
    cannot run TLS inside the proxy's TLS)."""
    from ansible_collections.cec.cc_gateway.plugins.module_utils._api.http_async import (
        aiohttp_matches_requests,
    )

    if not aiohttp_matches_requests():
        return None
    if sys.version_info < (3, 11) and (route.proxy or "").lower().startswith("https"):
        return None
    return LoopTransport(route, pool_size)
