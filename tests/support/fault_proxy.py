#!/usr/bin/env python3
"""A TCP proxy that injects network faults, switchable at run time (stdlib only).

Put between the functions and PgBouncer by `DEV_API_FAULTS=1 scripts/with-dev-api.sh`
for the fault campaign (tests/faults/campaign.py):

    python3 tests/support/fault_proxy.py --listen PORT --upstream HOST:PORT --control PORT

Modes (one at a time, for every connection, both directions):

- `pass`: bytes are forwarded as they come.
- `delay MS`: each chunk is forwarded MS milliseconds after it was read (order kept).
- `connect_delay S`: a new connection waits S seconds before the proxy connects
  upstream (a Neon compute waking from scale-to-zero); existing ones pass.
- `blackhole`: a partition. Nothing is forwarded either way and new connections hang
  (their handshake with the proxy completes; nothing reaches upstream). Bytes are held,
  not dropped: reading stops, and what was already read waits, so all of it (and a
  close behind it) is delivered when the partition heals, as TCP's retransmissions
  would deliver it: a statement sent into the partition by a client that has given up
  since still reaches the server then.
- `reset`: an action, not a mode: every open connection is closed with an RST
  (SO_LINGER 0) on both sides, whatever it held, then the mode is `pass`.

Control: a line-based protocol on 127.0.0.1:CONTROL. Send one command per line (the
modes above, or `stats`); each is answered with one JSON line holding the mode and the
counters (connections seen and open, faults injected by kind, mode switches by kind).
From a shell: exec 3<>/dev/tcp/127.0.0.1/$CONTROL; echo stats >&3; head -1 <&3

It never leaves loopback: it listens on 127.0.0.1 only and refuses an upstream host
that is not a loopback address.
"""

import argparse
import asyncio
import ipaddress
import json
import socket
import struct
import sys
import time

CHUNK = 65536
# What the control answers for each counter of faults injected.
FAULT_COUNTERS = {
    "delay": "chunks forwarded late",
    "connect_delay": "new connections held before connecting upstream",
    "blackhole": "connections that had bytes or their connect held by a partition",
    "reset": "connections closed with an RST",
}


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d} "
          f"fault_proxy: {message}", file=sys.stderr, flush=True)


class Conn:
    """One client connection and, once connected, its upstream."""

    def __init__(self, number: int, client: asyncio.StreamWriter):
        self.number = number
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.task: asyncio.Task | None = None
        self.blackholed = False
        self.reset = False


class Proxy:
    def __init__(self, upstream_host: str, upstream_port: int):
        self.upstream = (upstream_host, upstream_port)
        self.mode = "pass"
        self.delay = 0.0
        self.connect_delay = 0.0
        self.flowing = asyncio.Event()  # set unless a partition is on
        self.flowing.set()
        self.conns: set[Conn] = set()
        self.seen = 0
        self.bytes = {"up": 0, "down": 0}
        self.faults = dict.fromkeys(FAULT_COUNTERS, 0)
        self.switches = dict.fromkeys(["pass", "delay", "connect_delay", "blackhole", "reset"], 0)

    # ---- control -------------------------------------------------------------------

    def command(self, line: str) -> dict:
        words = line.split()
        if words and words[0] == "mode":
            words = words[1:]
        if not words:
            raise ValueError("empty command")
        name, args = words[0], words[1:]
        if name == "stats":
            pass
        elif name == "pass" and not args:
            self.set_mode("pass")
        elif name == "delay" and len(args) == 1:
            self.set_mode("delay", delay=float(args[0]) / 1000)
        elif name == "connect_delay" and len(args) == 1:
            self.set_mode("connect_delay", connect_delay=float(args[0]))
        elif name == "blackhole" and not args:
            self.set_mode("blackhole")
        elif name == "reset" and not args:
            self.reset_all()
        else:
            raise ValueError(f"unknown command: {line.strip()!r}")
        return self.stats()

    def set_mode(self, mode: str, delay: float = 0.0, connect_delay: float = 0.0) -> None:
        self.mode, self.delay, self.connect_delay = mode, delay, connect_delay
        self.switches[mode] += 1
        if mode == "blackhole":
            self.flowing.clear()
        else:
            self.flowing.set()
        log(f"mode {self.describe()} ({len(self.conns)} connections open)")

    def describe(self) -> str:
        if self.mode == "delay":
            return f"delay {self.delay * 1000:g}"
        if self.mode == "connect_delay":
            return f"connect_delay {self.connect_delay:g}"
        return self.mode

    def reset_all(self) -> None:
        conns = list(self.conns)
        for conn in conns:
            conn.reset = True
            for writer in (conn.client, conn.upstream):
                if writer is None:
                    continue
                sock = writer.get_extra_info("socket")
                try:
                    if sock is not None:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
                except OSError:
                    pass
                writer.transport.abort()
            if conn.task is not None:
                conn.task.cancel()
        self.faults["reset"] += len(conns)
        self.switches["reset"] += 1
        self.mode, self.delay, self.connect_delay = "pass", 0.0, 0.0
        self.flowing.set()
        log(f"reset {len(conns)} connections; mode pass")

    def stats(self) -> dict:
        return {
            "ok": True,
            "mode": self.describe(),
            "connections_seen": self.seen,
            "connections_open": len(self.conns),
            "bytes": dict(self.bytes),
            "faults": dict(self.faults),
            "switches": dict(self.switches),
        }

    async def control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    reply = self.command(line.decode("utf-8", "replace"))
                except ValueError as error:
                    reply = {"ok": False, "error": str(error)}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    # ---- the proxied connections ----------------------------------------------------

    def mark_blackholed(self, conn: Conn) -> None:
        if not conn.blackholed:
            conn.blackholed = True
            self.faults["blackhole"] += 1

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.seen += 1
        conn = Conn(self.seen, writer)
        conn.task = asyncio.current_task()
        self.conns.add(conn)
        try:
            # Until connected, whatever the client sends waits in `reader`.
            if self.mode == "connect_delay":
                self.faults["connect_delay"] += 1
                await asyncio.sleep(self.connect_delay)
            if not self.flowing.is_set():
                self.mark_blackholed(conn)
                await self.flowing.wait()
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except OSError as error:
                log(f"connection {conn.number}: upstream connect failed: {error}")
                return
            conn.upstream = up_writer
            await asyncio.gather(
                self.pump(conn, reader, up_writer, "up"),
                self.pump(conn, up_reader, writer, "down"),
            )
        except asyncio.CancelledError:
            pass
        finally:
            self.conns.discard(conn)
            if not conn.reset:
                for w in (conn.client, conn.upstream):
                    if w is not None:
                        w.close()

    async def pump(self, conn: Conn, reader: asyncio.StreamReader,
                   writer: asyncio.StreamWriter, direction: str) -> None:
        """One direction: a reader that stops reading during a partition, a queue that
        holds each chunk until its time (delay) and a writer that holds it while the
        partition lasts. A close (or a read error) travels behind the bytes read."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue(maxsize=256)

        async def read_side() -> None:
            while True:
                if not self.flowing.is_set():
                    self.mark_blackholed(conn)
                    await self.flowing.wait()
                try:
                    data = await reader.read(CHUNK)
                except (ConnectionError, OSError):
                    data = b""
                due = 0.0
                if data and self.mode == "delay" and self.delay > 0:
                    due = loop.time() + self.delay
                    self.faults["delay"] += 1
                await queue.put((due, data))
                if not data:
                    return

        async def write_side() -> None:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not self.flowing.is_set():
                    self.mark_blackholed(conn)
                    await self.flowing.wait()
                try:
                    if not data:
                        if writer.can_write_eof():
                            writer.write_eof()
                        return
                    writer.write(data)
                    self.bytes[direction] += len(data)
                    await writer.drain()
                except (ConnectionError, OSError):
                    return

        reading = asyncio.ensure_future(read_side())
        try:
            await write_side()
        finally:
            if not reading.done():
                reading.cancel()


def loopback_port(text: str, what: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        address = ipaddress.ip_address(socket.gethostbyname(host))
    except (OSError, ValueError) as error:
        sys.exit(f"fault_proxy: {what} {text!r}: {error}")
    if not address.is_loopback:
        sys.exit(f"fault_proxy: {what} {text!r} is not a loopback address; refusing")
    return str(address), int(port)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, help="PORT or 127.0.0.1:PORT")
    parser.add_argument("--upstream", required=True, help="HOST:PORT (a loopback address)")
    parser.add_argument("--control", required=True, help="PORT or 127.0.0.1:PORT")
    args = parser.parse_args()
    listen = loopback_port(args.listen, "--listen")
    upstream = loopback_port(args.upstream, "--upstream")
    control = loopback_port(args.control, "--control")

    proxy = Proxy(*upstream)
    server = await asyncio.start_server(proxy.handle, *listen)
    controller = await asyncio.start_server(proxy.control, *control)
    log(f"listening on {listen[0]}:{listen[1]} -> {upstream[0]}:{upstream[1]}, "
        f"control on {control[0]}:{control[1]}")
    async with server, controller:
        await asyncio.gather(server.serve_forever(), controller.serve_forever())


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
