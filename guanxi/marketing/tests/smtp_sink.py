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

``LeanSmtpSink`` has the same interface without aiosmtpd: the benchmark's server (see its
docstring), which also offers CHUNKING (BDAT, RFC 3030) and can drop the line after a
given message (``hang_up_after``).
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


# ======================================================================================
# A lean SMTP server for the benchmark
# ======================================================================================
class _LeanSession(asyncio.Protocol):
    """One client of ``LeanSmtpSink``: RFC 5321 commands parsed from a byte buffer, answers
    collected while the buffer holds pipelined commands and written in one piece when it is
    drained — as Postfix's smtpd does — instead of one write per answer."""

    MAX_LINE = 2048

    def __init__(self, sink: "LeanSmtpSink"):
        self.sink = sink
        self.buffer = bytearray()
        self.answers: list[bytes] = []
        self.greeted = False
        self.in_data = False
        self.bdat_left = -1       # bytes of a BDAT chunk still to read; -1: not in BDAT
        self.bdat_last = False
        self.content = bytearray()
        self.transport = None
        self._reset()

    def _reset(self) -> None:
        self.mail_from: str | None = None
        self.recipients: list[str] = []
        self.content = bytearray()
        self.bdat_failed = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(b"220 guanxi-sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        position = self._consume()
        if position:
            del self.buffer[:position]
        if self.answers and self.transport is not None:
            self.transport.write(b"".join(self.answers))
            self.answers.clear()
        if self.transport is not None and len(self.buffer) > self.sink.data_size_limit + self.MAX_LINE:
            self.transport.write(b"552 5.3.4 Too much data\r\n")
            self.transport.close()

    def _answer(self, text: str) -> None:
        self.answers.append(text.encode("utf-8") + b"\r\n")

    def _consume(self) -> int:
        """Handle every complete command and message in the buffer; returns bytes used."""
        buffer, position = self.buffer, 0
        while self.transport is not None:
            if self.bdat_left >= 0:
                if len(buffer) - position < self.bdat_left:
                    return position
                chunk_end = position + self.bdat_left
                if not self.bdat_failed:
                    self.content += buffer[position:chunk_end]
                position, self.bdat_left = chunk_end, -1
                self._end_bdat_chunk()
                continue
            if self.in_data:
                if buffer.startswith(b".\r\n", position):        # an empty message
                    end, after = position, position + 3
                else:
                    end = buffer.find(b"\r\n.\r\n", position)
                    if end < 0:
                        return position
                    end, after = end + 2, end + 5
                content = bytes(buffer[position:end]).replace(b"\r\n..", b"\r\n.")   # undo dot-stuffing
                if content.startswith(b".."):
                    content = content[1:]
                position, self.in_data = after, False
                self._accept(content)
                continue
            end = buffer.find(b"\r\n", position)
            if end < 0:
                if len(buffer) - position > self.MAX_LINE:
                    self._answer("500 5.5.2 Line too long")
                    return len(buffer)
                return position
            line = bytes(buffer[position:end])
            position = end + 2
            self._command(line)
        return position

    def _command(self, line: bytes) -> None:
        verb, _, argument = line.partition(b" ")
        try:
            verb_text, argument_text = verb.decode("ascii").upper(), argument.decode("utf-8").strip()
        except UnicodeDecodeError:
            self._answer("500 5.5.2 Syntax error")
            return
        handler = getattr(self, f"smtp_{verb_text}", None) if verb_text.isalpha() else None
        if handler is None:
            self._answer("500 5.5.1 Command not recognized")
            return
        handler(argument_text)

    def smtp_HELO(self, argument: str) -> None:
        if not argument:
            self._answer("501 5.5.4 Syntax: HELO hostname")
            return
        self.greeted = True
        self._reset()
        self._answer("250 guanxi-sink")

    def smtp_EHLO(self, argument: str) -> None:
        if not argument:
            self._answer("501 5.5.4 Syntax: EHLO hostname")
            return
        self.greeted = True
        self._reset()
        extensions = [f"SIZE {self.sink.data_size_limit}", "8BITMIME", "ENHANCEDSTATUSCODES"]
        if self.sink.pipelining:
            extensions.append("PIPELINING")
        if self.sink.chunking:
            extensions.append("CHUNKING")
        lines = ["guanxi-sink", *extensions]
        self.answers.append("".join(f"250{'-' if index < len(lines) - 1 else ' '}{text}\r\n"
                                    for index, text in enumerate(lines)).encode("ascii"))

    def smtp_NOOP(self, argument: str) -> None:
        self._answer("250 2.0.0 OK")

    def smtp_RSET(self, argument: str) -> None:
        self._reset()
        self._answer("250 2.0.0 OK")

    def smtp_QUIT(self, argument: str) -> None:
        self._answer("221 2.0.0 Bye")
        self.transport.write(b"".join(self.answers))
        self.answers.clear()
        self.transport.close()
        self.transport = None

    def smtp_VRFY(self, argument: str) -> None:
        self._answer("252 2.5.2 Cannot VRFY user")

    _PATH = re.compile(r"^(FROM|TO):\s*<([^<>\s]*)>(?:\s+(.*))?$", re.IGNORECASE)

    def _path(self, argument: str, keyword: str) -> str | None:
        match = self._PATH.match(argument)
        if match is None or match.group(1).upper() != keyword:
            self._answer(f"501 5.5.4 Syntax: {'MAIL FROM' if keyword == 'FROM' else 'RCPT TO'}:<address>")
            return None
        return match.group(2)

    def smtp_MAIL(self, argument: str) -> None:
        if not self.greeted:
            self._answer("503 5.5.1 Error: send HELO/EHLO first")
        elif self.mail_from is not None:
            self._answer("503 5.5.1 Error: nested MAIL command")
        else:
            address = self._path(argument, "FROM")
            if address is not None:
                self.mail_from = address
                self._answer("250 2.1.0 OK")

    def smtp_RCPT(self, argument: str) -> None:
        if self.mail_from is None:
            self._answer("503 5.5.1 Error: need MAIL command")
            return
        address = self._path(argument, "TO")
        if address is None or not address:
            if address is not None:
                self._answer("501 5.1.3 Bad recipient address syntax")
            return
        refusal = self.sink.refusal_for(address)
        if refusal:
            self._answer(refusal)
            return
        self.recipients.append(address)
        self._answer("250 2.1.5 OK")

    def smtp_DATA(self, argument: str) -> None:
        if argument:
            self._answer("501 5.5.4 Syntax: DATA")
        elif not self.recipients:
            self._answer("503 5.5.1 Error: need RCPT command")
        else:
            self.in_data = True
            self._answer("354 End data with <CR><LF>.<CR><LF>")

    def smtp_BDAT(self, argument: str) -> None:
        """RFC 3030: the chunk is read whatever happens (it is on its way), then answered."""
        parts = argument.split()
        if not parts or not parts[0].isdigit() or len(parts) > 2 or (len(parts) == 2 and parts[1].upper() != "LAST"):
            self._answer("501 5.5.4 Syntax: BDAT size [LAST]")
            return
        self.bdat_left, self.bdat_last = int(parts[0]), len(parts) == 2
        self.bdat_failed = self.bdat_failed or not self.recipients or not self.sink.chunking
        if len(self.content) + self.bdat_left > self.sink.data_size_limit:
            self.bdat_failed = True

    def _end_bdat_chunk(self) -> None:
        if self.bdat_failed:
            self._answer("503 5.5.1 Error: need RCPT command" if not self.recipients
                         else "552 5.3.4 Message too big")
            if self.bdat_last:
                self._reset()
            return
        if self.bdat_last:
            self._accept(bytes(self.content))
        else:
            self._answer(f"250 2.0.0 {len(self.content)} octets received")

    def _accept(self, content: bytes) -> None:
        if self.sink.hangs_up_on(self.recipients):
            # a test's lost connection: what was answered before goes out, then the line closes
            # with this message taken in but never answered
            self.transport.write(b"".join(self.answers))
            self.answers.clear()
            self.transport.close()
            self.transport = None
            return
        self.sink.deliver(self.mail_from or "", self.recipients, content)
        self._reset()
        self._answer("250 2.0.0 Message accepted for delivery")

    def connection_lost(self, exc) -> None:
        self.transport = None


class LeanSmtpSink:
    """A small SMTP server (RFC 5321 with PIPELINING, RFC 3030 CHUNKING) on asyncio's plain
    protocol callbacks, with ``SmtpSink``'s interface. It stands in for a production MTA in
    the bulk-email benchmark, where aiosmtpd's per-line coroutines and one write per answer
    would make the sink, not the sender, what is measured; the tests run the sender against
    both."""

    def __init__(self, port: int | None = None, keep_messages: bool = True, pipelining: bool = True,
                 chunking: bool = True, data_size_limit: int = 10 * 1024 * 1024):
        self.port = port or free_port()
        self.keep_messages, self.pipelining, self.chunking = keep_messages, pipelining, chunking
        self.data_size_limit = data_size_limit
        self.count = 0
        self._received: list[Received] = []
        self._refusals: dict[str, list[str]] = {}
        self._hang_ups: set[str] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "LeanSmtpSink":
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            server = self._loop.run_until_complete(self._loop.create_server(
                lambda: _LeanSession(self), host="127.0.0.1", port=self.port))
            ready.set()
            try:
                self._loop.run_forever()
            finally:
                server.close()
                self._loop.run_until_complete(server.wait_closed())
                self._loop.close()

        self._thread = threading.Thread(target=run, daemon=True, name="lean-smtp-sink")
        self._thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def deliver(self, mail_from: str, recipients: list[str], content: bytes) -> None:
        with self._lock:
            self.count += 1
            if self.keep_messages:
                self._received.append(Received(mail_from, list(recipients), content))

    def refusal_for(self, address: str) -> str:
        with self._lock:
            answers = self._refusals.get(address.lower())
            return answers.pop(0) if answers else ""

    def hang_up_after(self, address: str) -> None:
        """Drop the connection once the next message to ``address`` is in, without answering it."""
        with self._lock:
            self._hang_ups.add(address.lower())

    def hangs_up_on(self, recipients: list[str]) -> bool:
        with self._lock:
            hit = self._hang_ups & {address.lower() for address in recipients}
            self._hang_ups -= hit
            return bool(hit)

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def recipients(self) -> list[str]:
        return [address for item in self.received for address in item.recipients]

    def refuse(self, address: str, answer: str, times: int = 1) -> None:
        with self._lock:
            self._refusals.setdefault(address.lower(), []).extend([answer] * times)

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
    parser.add_argument("--server", choices=("aiosmtpd", "lean"), default="aiosmtpd",
                        help="aiosmtpd, or the lean server (PIPELINING with the answers written together, "
                             "CHUNKING)")
    arguments = parser.parse_args()
    if arguments.server == "lean":
        server = LeanSmtpSink(arguments.port, keep_messages=arguments.keep)
    else:
        server = SmtpSink(arguments.port, keep_messages=arguments.keep, reuse_port=arguments.reuse_port)
    with server as sink:
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
