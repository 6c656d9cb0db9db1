"""Command line: python -m ccgw_sim [options]."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from .app import build_app
from .config import DEFAULT_PASSWORD, ConfigError, Settings, build_roster, load_yaml
from .state import Store
from .tls import make_server_context

# aiohttp's default (128) makes the kernel drop or reset the connections of 10,000 agents signing in at once.
DEFAULT_BACKLOG = 4096


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ccgw_sim", description="Huawei CEC CC-Gateway AgentGateway simulator"
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8043, help="listen port, 0 = pick a free one (default 8043)"
    )
    parser.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
    parser.add_argument("--cert-dir", default=".sim", help="where ca.pem is written (default .sim)")
    parser.add_argument("--config", metavar="FILE", help="YAML file (basic.properties keys and agents)")
    parser.add_argument("--auth-mode", type=int, choices=(1, 2), help="1 static, 2 dynamic (default 2)")
    parser.add_argument("--guid-interval", type=int, metavar="MS", help="GUIDINTERVAL (default 60000)")
    parser.add_argument("--guid-timeout", type=int, metavar="MS", help="GUIDTIMEOUT (default 120000)")
    parser.add_argument("--poll-hold", type=float, metavar="SECONDS", help="long-poll hold (default 2.0)")
    parser.add_argument("--heartbeat-timeout", type=float, metavar="SECONDS", help="default 120")
    parser.add_argument("--signin-delay", type=float, metavar="SECONDS", help="sign-in processing time (0)")
    parser.add_argument("--no-selfrecord", action="store_true", help="IF_ENABLE_AGENT_SELFRECORD=false")
    parser.add_argument("--mapping-disk", metavar="LETTER", help="MAPPINGDISK (default Y)")
    parser.add_argument(
        "--max-agent-id",
        type=int,
        metavar="N",
        help="highest agent id accepted (default 59999; up to 999999 as AICC 25.200.0 and later)",
    )
    parser.add_argument(
        "--answer-shape",
        metavar="SPEC",
        help="shape of every gateway answer on the wire: split, chunked, stray or slow, with parameters as "
        "KIND:key=value,... or a JSON object (e.g. chunked:pieces=4,delay=0.01); default none",
    )
    parser.add_argument(
        "--record-bytes-per-second",
        type=int,
        metavar="N",
        help="bytes a stopped recording's file gains per second recorded, whatever its recordFormat "
        "(default: by recordFormat, 3000-8000)",
    )
    parser.add_argument(
        "--no-download", action="store_true", help="recording download switched off (answers 104-001)"
    )
    parser.add_argument(
        "--cti-pool", action="store_true", help="CTI pool mode: downloads must give the file's locationId"
    )
    parser.add_argument("--agents", metavar="RANGE[,RANGE]", help="roster, e.g. 101-120,186-195")
    parser.add_argument("--password", help=f"password of every agent (default {DEFAULT_PASSWORD})")
    parser.add_argument("--state-file", metavar="PATH", help="write {url, ca, pid} as JSON once listening")
    parser.add_argument("--access-log", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--backlog",
        type=int,
        default=DEFAULT_BACKLOG,
        metavar="N",
        help=f"connections the kernel queues before they are accepted (default {DEFAULT_BACKLOG}, capped by "
        "net.core.somaxconn): a gateway behind a load balancer takes thousands of agents' connections at once",
    )
    parser.add_argument(
        "--loop",
        choices=("auto", "asyncio", "uvloop"),
        default="auto",
        help="event loop: uvloop (about twice the throughput, TLS included) when installed, else asyncio",
    )
    return parser.parse_args(argv)


def build_store(args: argparse.Namespace) -> Store:
    file_cfg = load_yaml(args.config) if args.config else None
    settings = Settings()
    if file_cfg is not None:
        settings.update(file_cfg.settings)
    flags: dict[str, Any] = {
        "auth_mode": args.auth_mode,
        "guid_interval_ms": args.guid_interval,
        "guid_timeout_ms": args.guid_timeout,
        "poll_hold": args.poll_hold,
        "heartbeat_timeout": args.heartbeat_timeout,
        "signin_delay": args.signin_delay,
        "mapping_disk": args.mapping_disk,
        "selfrecord": False if args.no_selfrecord else None,
        "max_agent_id": args.max_agent_id,
        "answer_shape": args.answer_shape,
        "record_bytes_per_second": args.record_bytes_per_second,
        "download_enabled": False if args.no_download else None,
        "cti_pool": True if args.cti_pool else None,
    }
    settings.update({key: value for key, value in flags.items() if value is not None})
    roster = build_roster(
        file_cfg.agents if file_cfg is not None else None,
        args.agents,
        args.password if args.password is not None else DEFAULT_PASSWORD,
        settings.max_agent_id,
    )
    return Store(settings, roster)


def raise_open_file_limit() -> str | None:
    """Raise the soft RLIMIT_NOFILE to the hard limit (thousands of held polls need as many sockets).

    Returns None when the soft limit is already there or was raised, else one line saying why not.
    """
    try:
        import resource
    except ImportError:  # not a Unix system
        return "ccgw_sim: cannot raise the open-file limit: no resource module on this platform"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if hard == resource.RLIM_INFINITY:
        # Linux refuses an infinite soft limit above fs.nr_open; macOS above OPEN_MAX (10240).
        try:
            target = int(Path("/proc/sys/fs/nr_open").read_text())
        except (OSError, ValueError):
            target = 10240
    if soft == resource.RLIM_INFINITY or soft >= target:
        return None
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (OSError, ValueError) as exc:
        return f"ccgw_sim: cannot raise the open-file soft limit from {soft} to {target}: {exc}; going on"
    return None


def _url(scheme: str, host: str, port: int) -> str:
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def _write_state(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


async def serve(args: argparse.Namespace, store: Store) -> None:
    ssl_context = None
    ca_path: Path | None = None
    if not args.http:
        ssl_context, ca_path = make_server_context(args.cert_dir)
        print(f"CA certificate: {ca_path}", flush=True)

    app = build_app(store)
    runner_kwargs: dict[str, Any] = {"handler_cancellation": True, "shutdown_timeout": 1.0}
    if args.access_log:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    else:
        runner_kwargs["access_log"] = None
    runner = web.AppRunner(app, **runner_kwargs)
    await runner.setup()
    state_file = Path(args.state_file).resolve() if args.state_file else None
    try:
        site = web.TCPSite(runner, args.host, args.port, ssl_context=ssl_context, backlog=args.backlog)
        await site.start()
        port = runner.addresses[0][1]
        url = _url("http" if args.http else "https", args.host, port)
        if state_file is not None:
            _write_state(
                state_file, {"url": url, "ca": str(ca_path) if ca_path else None, "pid": os.getpid()}
            )
        print(f"CC-Gateway simulator listening on {url}", flush=True)

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
        if state_file is not None:
            state_file.unlink(missing_ok=True)


def run(coroutine: Any, loop: str) -> None:
    if loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if loop == "uvloop":
                raise OSError("--loop uvloop: the uvloop package is not installed") from None
        else:
            uvloop.run(coroutine)
            return
    asyncio.run(coroutine)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problem = raise_open_file_limit()
    if problem is not None:
        print(problem, file=sys.stderr, flush=True)
    try:
        store = build_store(args)
    except (ConfigError, OSError) as exc:
        print(f"ccgw_sim: {exc}", file=sys.stderr)
        return 2
    try:
        run(serve(args, store), args.loop)
    except OSError as exc:
        print(f"ccgw_sim: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
