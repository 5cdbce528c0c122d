"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the tests,
the browser test and the bulk-email benchmark.

``SmtpSink`` runs in a thread of the current process; ``python -m
guanxi.marketing.tests.smtp_sink --port N`` runs one as its own process (the benchmark
uses that so the server does not share the sender's interpreter), answering ``COUNT``
on a second port with the number of messages received so far.

The server is aiosmtpd's, with two shortcuts that keep it from being what a benchmark
measures: DATA is read up to the terminating dot in one read (aiosmtpd reads it line by
line) and ``<address>`` arguments are taken with a plain pattern (aiosmtpd runs the RFC
5322 header parser on each). What it receives is byte for byte what was sent.

A test can make the server refuse messages: ``sink.refuse(address, "451 4.3.0 Try later",
times=2)`` answers the next two deliveries to that address with a temporary error.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import re
import socket
import threading
import time
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)


@dataclass
class _Handler:
    keep_messages: bool = True
    pipelining: bool = True
    received: list[Received] = field(default_factory=list)
    count: int = 0
    refusals: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # aiosmtpd answers commands strictly in order, so pipelined ones (RFC 2920) just work.
        session.host_name = hostname
        # responses ends with aiosmtpd's closing "250 HELP"; extensions go before it
        return [*responses[:-1], *(["250-PIPELINING"] if self.pipelining else []), responses[-1]]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            answers = self.refusals.get(address.lower())
            if answers:
                return answers.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            if self.keep_messages:
                self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


class WholeDataSMTP(SMTP):
    """aiosmtpd's SMTP server reading DATA in one piece (see the module docstring)."""

    _ANGLE = re.compile(r"^\s*<([^<>\s]*)>(.*)$")

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._reader._limit = self.data_size_limit  # readuntil() may span the whole message

    def _getaddr(self, arg):
        match = self._ANGLE.match(arg or "")
        if match:
            return match.group(1), match.group(2)
        return super()._getaddr(arg)

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            raw = await self._reader.readuntil(b"\r\n.\r\n")
        except asyncio.LimitOverrunError:
            await self.push("552 Error: Too much mail data")
            self._set_post_data_state()
            return
        content = raw[:-3].replace(b"\r\n..", b"\r\n.")  # undo dot-stuffing (RFC 5321 4.5.2)
        if content.startswith(b".."):
            content = content[1:]
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(status)


class _SinkController(Controller):
    reuse_port = False

    def factory(self):
        return WholeDataSMTP(self.handler, **self.SMTP_kwargs)

    def _create_server(self):
        # With reuse_port, several sink processes share one port and the kernel spreads
        # the connections among them.
        return self.loop.create_server(self._factory_invoker, host=self.hostname, port=self.port,
                                       reuse_port=self.reuse_port or None)


class SmtpSink:
    """``with SmtpSink() as sink: ... sink.port ... sink.received``"""

    def __init__(self, port: int | None = None, keep_messages: bool = True, pipelining: bool = True,
                 reuse_port: bool = False):
        self.handler = _Handler(keep_messages=keep_messages, pipelining=pipelining)
        self.port = port or free_port()
        self.controller = _SinkController(self.handler, hostname="127.0.0.1", port=self.port,
                                          data_size_limit=10 * 1024 * 1024)
        self.controller.reuse_port = reuse_port

    def __enter__(self) -> "SmtpSink":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    @property
    def count(self) -> int:
        return self.handler.count

    def recipients(self) -> list[str]:
        return [address for item in self.received for address in item.recipients]

    def refuse(self, address: str, answer: str, times: int = 1) -> None:
        with self.handler.lock:
            self.handler.refusals.setdefault(address.lower(), []).extend([answer] * times)

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.count < count and time.monotonic() < deadline:
            time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description="SMTP sink on loopback that counts messages.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count-port", type=int, required=True,
                        help="a line 'COUNT' on this port answers with the number of messages received")
    parser.add_argument("--keep", action="store_true", help="keep messages in memory")
    parser.add_argument("--reuse-port", action="store_true", help="share the port with other sink processes")
    arguments = parser.parse_args()
    with SmtpSink(arguments.port, keep_messages=arguments.keep, reuse_port=arguments.reuse_port) as sink:
        with socket.create_server(("127.0.0.1", arguments.count_port)) as server:
            print("ready", flush=True)
            while True:
                connection, _address = server.accept()
                with connection:
                    request = connection.recv(64).strip()
                    if request == b"STOP":
                        connection.sendall(f"{sink.count}\n".encode())
                        return
                    connection.sendall(f"{sink.count}\n".encode())


if __name__ == "__main__":
    main()
