"""E-mail over SMTP, with the standard library's :mod:`smtplib`.

One connection is kept open across messages (a campaign sends many in a
row) and opened again when the server closed it. ``security`` is
``"starttls"`` (port 587: the connection is upgraded before logging in),
``"ssl"`` (port 465: TLS from the first byte) or ``"none"`` (a relay on
loopback only: credentials are then refused, so that a password never
crosses a network in clear).

Each message's ``Message-ID`` is made from its idempotency key (the outbox
row's dedup key), so that the copy a crash makes the sender send again
carries the same id, by which mail systems and the tests' receiving server
drop it. The caller's extra headers (``List-Unsubscribe``,
``List-Unsubscribe-Post``) are added as given; a header that would let a
value inject another (a line break) is refused.

An answer of 5xx to the recipient or the data is a permanent failure; a
4xx answer, a dropped connection or a timeout is transient.
"""

from __future__ import annotations

import email.message
import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate

from tenure.campaigns.channels.base import Message, Result
from tenure.errors import ConfigError

SECURITY = ("starttls", "ssl", "none")
# headers tenure sets itself; the caller may not replace them
OWN = {"from", "to", "subject", "message-id", "date", "mime-version", "content-type"}


def message_id(key: str, domain: str) -> str:
    """The ``Message-ID`` of the message whose idempotency key is ``key``:
    the same key gives the same id.

    >>> message_id("welcome:1:C1:0", "shop.example")
    '<t.4269840af57b4614904c38ae4717cf60@shop.example>'
    """
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<t.{digest}@{domain}>"


@dataclass
class SmtpSettings:
    host: str = "localhost"
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password: str | None = None
    sender: str = "shop@localhost"  # the From: address
    sender_name: str | None = None
    timeout: float = 30.0
    # a CA bundle for a server with a private certificate; None: the system's
    cafile: str | None = None

    def __post_init__(self) -> None:
        if self.security not in SECURITY:
            raise ConfigError(
                f"the SMTP security {self.security!r} is not one tenure knows.",
                hint="Use starttls (port 587), ssl (port 465) or none (a local relay).",
                value=self.security,
            )
        if self.security == "none" and self.username and self.host not in (
            "localhost", "127.0.0.1", "::1"
        ):  # fmt: skip
            raise ConfigError(
                f"SMTP credentials would be sent in clear to {self.host}.",
                hint="Set security to starttls or ssl, or relay through localhost.",
            )

    @property
    def domain(self) -> str:
        return self.sender.rpartition("@")[2] or "localhost"


class SmtpProvider:
    """Send e-mail through one SMTP server (see the module's docstring)."""

    name = "email"
    idempotent = False  # SMTP has no idempotency key: the Message-ID stands for it

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context(cafile=s.cafile)
        conn: smtplib.SMTP
        if s.security == "ssl":
            conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            if s.security == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
            if s.username:
                conn.login(s.username, s.password or "")
        except BaseException:
            conn.close()  # the socket of a handshake or a login that failed
            raise
        return conn

    def build(self, message: Message) -> email.message.Message:
        """The e-mail as it is sent: text, and HTML as its alternative."""
        s = self.settings
        # the MIME classes of the compat32 policy: a fifth of EmailMessage's
        # time per message, and the same bytes on the wire for these parts
        text = MIMEText(message.text, "plain", "utf-8")
        if message.html is None:
            mail: email.message.Message = text
        else:
            mail = MIMEMultipart("alternative")
            mail.attach(text)
            mail.attach(MIMEText(message.html, "html", "utf-8"))
        mail["From"] = formataddr((s.sender_name, s.sender), "utf-8") if s.sender_name else s.sender
        mail["To"] = message.to
        mail["Subject"] = (
            Header(message.subject, "utf-8").encode()
            if not message.subject.isascii()
            else message.subject
        )
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = message_id(message.idempotency_key or message.to, s.domain)
        for name, value in message.headers.items():
            if name.lower() in OWN or "\n" in value or "\r" in value or "\n" in name:
                raise ValueError(f"the header {name!r} cannot be set by a campaign")
            mail[name] = value
        return mail

    def send(self, message: Message) -> Result:
        try:
            mail = self.build(message)
        except ValueError as exc:
            return Result.failed(str(exc), permanent=True)
        for attempt in (1, 2):  # a connection the server closed meanwhile: once more
            try:
                if self._conn is None:
                    self._conn = self._connect()
                refused = self._conn.send_message(mail)
            except smtplib.SMTPServerDisconnected as exc:
                self.close()
                if attempt == 2:
                    return Result.failed(f"the server closed the connection: {exc}",
                                         permanent=False)  # fmt: skip
                continue
            except smtplib.SMTPRecipientsRefused as exc:
                code, text = next(iter(exc.recipients.values()))
                return _answer(code, text)
            except smtplib.SMTPResponseException as exc:
                self.close()  # the transaction is in an unknown state
                return _answer(exc.smtp_code, exc.smtp_error)
            except (OSError, smtplib.SMTPException) as exc:
                self.close()
                return Result.failed(f"{type(exc).__name__}: {exc}", permanent=False)
            if refused:  # some recipients refused (one recipient here: never all)
                code, text = next(iter(refused.values()))
                return _answer(code, text)
            return Result.sent(mail["Message-ID"])
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._conn = None


def _answer(code: int, text: bytes | str) -> Result:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return Result.failed(f"SMTP {code} {words}", permanent=500 <= code < 600)
