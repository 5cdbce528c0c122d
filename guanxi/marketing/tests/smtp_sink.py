"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the tests,
the browser test and the bulk-email benchmark.

``SmtpSink`` runs in a thread of the current process; ``python -m
guanxi.marketing.tests.smtp_sink --port N`` runs one as its own process (the benchmark
uses that so the server does not share the sender's interpreter), answering ``COUNT``
on a second port with the number of messages received so far.

A test can make the server refuse messages: ``sink.refuse(address, "451 4.3.0 Try later",
times=2)`` answers the next two deliveries to that address with a temporary error.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller


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
    received: list[Received] = field(default_factory=list)
    count: int = 0
    refusals: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

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


class SmtpSink:
    """``with SmtpSink() as sink: ... sink.port ... sink.received``"""

    def __init__(self, port: int | None = None, keep_messages: bool = True):
        self.handler = _Handler(keep_messages=keep_messages)
        self.port = port or free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     data_size_limit=10 * 1024 * 1024)

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
    arguments = parser.parse_args()
    with SmtpSink(arguments.port, keep_messages=arguments.keep) as sink:
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
