# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A CONNECT proxy on 127.0.0.1 for the proxy test: one line per tunnel in the log, port in the port file.

python connect_proxy.py PORT_FILE LOG_FILE    (SIGTERM stops it; it also stops by itself after 10 minutes)
"""

from __future__ import annotations

import asyncio
import contextlib
import sys


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError):
        writer.close()


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, log: str) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        method, target, _version = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        if method != "CONNECT":
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\n\r\n")
            return
        host, _colon, port = target.rpartition(":")
        upstream_reader, upstream_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(target + "\n")
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
    except (
        OSError,
        ValueError,
        asyncio.TimeoutError,
        asyncio.IncompleteReadError,
        asyncio.LimitOverrunError,
    ):
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()


async def main(port_file: str, log: str) -> None:
    server = await asyncio.start_server(lambda r, w: serve(r, w, log), "127.0.0.1", 0)
    with open(port_file, "w", encoding="utf-8") as handle:
        handle.write(str(server.sockets[0].getsockname()[1]))
    async with server:
        await asyncio.sleep(600)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(sys.argv[1], sys.argv[2]))
