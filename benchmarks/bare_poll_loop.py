"""A bare aiohttp event-poll loop: the floor the session keeper is measured against (make bench-keeper).

Signs in the given agents, prints "ready", then polls each agent's events the way the keeper does, and no
more: one ClientSession with unlimited kept-alive connections, the next poll at once after an event and
--pause seconds after an empty answer, a GUID the gateway rotates (Set-GUID) followed, the answer read whole
and parsed as JSON. Nothing is checked beyond that and nothing is written. It stops polling by itself after
--seconds (or at the first refused poll, which it prints, or on SIGTERM), then signs its agents out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import ssl
import sys
import threading
import time

import aiohttp

SIGN_IN_CONCURRENCY = 50
STOP = threading.Event()  # set by SIGTERM: every poll ends after its answer, then the agents are signed out


def raise_open_file_limit() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def guid_of(response: aiohttp.ClientResponse, old: str) -> str:
    value = response.headers.get("Set-GUID")
    return value.removeprefix("JSESSIONID=").split(";", 1)[0].strip() if value else old


async def sign_in(http: aiohttp.ClientSession, url: str, agent_id: int, password: str) -> str:
    body = {"password": password, "phonenum": f"70{agent_id}"}
    # forcelogin: a later turn of the benchmark takes over the sessions of the turn before.
    target = f"{url}/agentgateway/resource/onlineagent/{agent_id}/forcelogin"
    async with http.put(target, json=body) as response:
        answer = json.loads(await response.read())
        if answer.get("retcode") != "0":
            raise SystemExit(f"sign-in of agent {agent_id} refused: {answer}")
        return guid_of(response, "")


async def sign_out(http: aiohttp.ClientSession, url: str, agent_id: int, guid: str) -> None:
    async with http.delete(
        f"{url}/agentgateway/resource/onlineagent/{agent_id}/logout", headers={"Guid": guid}
    ):
        pass


async def poll(
    http: aiohttp.ClientSession, url: str, agent_id: int, guid: str, pause: float, deadline: float
) -> str:
    """Poll until deadline, or until asked to stop (SIGTERM); the agent's GUID then."""
    target = f"{url}/agentgateway/resource/agentevent/{agent_id}"
    while time.monotonic() < deadline and not STOP.is_set():
        async with http.get(target, headers={"Guid": guid}) as response:
            answer = json.loads(await response.read())
            guid = guid_of(response, guid)
        if answer.get("retcode") != "0":
            raise SystemExit(f"poll of agent {agent_id} refused: {answer}")
        if answer.get("event") is None:
            await asyncio.sleep(pause)
    return guid


async def run(args: argparse.Namespace) -> None:
    tls = ssl.create_default_context(cafile=args.ca) if args.ca else False
    timeout = aiohttp.ClientTimeout(total=args.hold + 30)
    connector = aiohttp.TCPConnector(limit=0, ssl=tls)
    ids = list(range(args.first, args.first + args.agents))
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False) as http:
        limit = asyncio.Semaphore(SIGN_IN_CONCURRENCY)

        async def signed_in(agent_id: int) -> str:
            async with limit:
                return await sign_in(http, args.url, agent_id, args.password)

        guids = await asyncio.gather(*(signed_in(agent_id) for agent_id in ids))
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, STOP.set)
        print("ready", flush=True)
        deadline = time.monotonic() + args.seconds
        guids = await asyncio.gather(
            *(
                poll(http, args.url, agent_id, guid, args.pause, deadline)
                for agent_id, guid in zip(ids, guids)
            )
        )

        async def signed_out(agent_id: int, guid: str) -> None:
            async with limit:
                await sign_out(http, args.url, agent_id, guid)

        await asyncio.gather(*(signed_out(agent_id, guid) for agent_id, guid in zip(ids, guids)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--ca", help="the gateway's CA bundle (HTTPS)")
    parser.add_argument("--first", type=int, required=True, help="the first agent ID")
    parser.add_argument("--agents", type=int, required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds after an empty answer")
    parser.add_argument("--hold", type=float, default=2.0, help="how long the gateway holds a poll")
    parser.add_argument("--seconds", type=float, required=True, help="how long to poll, after signing in")
    args = parser.parse_args()
    raise_open_file_limit()
    asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
