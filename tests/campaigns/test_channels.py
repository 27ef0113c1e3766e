"""Channels against real servers on loopback: SMTP with STARTTLS, with TLS
from the start and with a login (aiosmtpd, a certificate made by openssl),
and the signed webhook against an HTTP server that checks the signature
with its own HMAC."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tenure.campaigns.channels import Message, Provider
from tenure.campaigns.channels.smtp import SmtpProvider, SmtpSettings, message_id
from tenure.campaigns.channels.webhook import WebhookProvider
from tenure.errors import ConfigError

from .conftest import Inbox, free_port

MESSAGE = Message(to="ann@example.com", subject="Your points", text="You have 120 points.",
                  html="<p>You have <b>120</b> points.</p>", idempotency_key="loyal:1:C1:2026",
                  headers={"List-Unsubscribe": "<mailto:unsub@shop.example>"},
                  customer_id="C1", campaign="loyal")  # fmt: skip


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if shutil.which("openssl") is None:
        from tests.conftest import skip_or_fail

        skip_or_fail("openssl is not installed: it makes the SMTP tests' certificate")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    return folder / "cert.pem", folder / "key.pem"


def _server_context(cert, key) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def _controller(inbox, **options):
    from aiosmtpd.controller import Controller

    port = free_port()
    return Controller(inbox, hostname="127.0.0.1", port=port, **options), port


def test_the_providers_follow_the_provider_interface():
    smtp = SmtpProvider(SmtpSettings())
    hook = WebhookProvider("https://sms.shop.example/send", "s3cret")
    assert isinstance(smtp, Provider) and isinstance(hook, Provider)
    assert (smtp.idempotent, hook.idempotent) == (False, True)


def test_starttls_with_a_login_delivers_the_message_with_its_headers(certificate):
    from aiosmtpd.smtp import AuthResult

    cert, key = certificate
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((mechanism, auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"pw")

    inbox = Inbox()
    controller, port = _controller(inbox, tls_context=_server_context(cert, key),
                                   require_starttls=True, authenticator=authenticator,
                                   auth_required=True)  # fmt: skip
    controller.start()
    try:
        provider = SmtpProvider(SmtpSettings(host="127.0.0.1", port=port, security="starttls",
                                             username="shop", password="pw",
                                             sender="news@shop.example", cafile=str(cert)))  # fmt: skip
        result = provider.send(MESSAGE)
        provider.close()
    finally:
        controller.stop()
    assert result.ok and result.provider_message_id == message_id("loyal:1:C1:2026", "shop.example")
    assert logins[0][1:] == (b"shop", b"pw")
    mail = inbox.arrivals[0]
    assert mail["List-Unsubscribe"] == "<mailto:unsub@shop.example>"
    assert mail["Message-ID"] == result.provider_message_id
    assert mail["Date"] is not None
    assert len(inbox.arrivals) == 1


def test_tls_from_the_first_byte(certificate):
    cert, key = certificate
    inbox = Inbox()
    controller, port = _controller(inbox, ssl_context=_server_context(cert, key))
    controller.start()
    try:
        provider = SmtpProvider(SmtpSettings(host="127.0.0.1", port=port, security="ssl",
                                             sender="news@shop.example", cafile=str(cert)))  # fmt: skip
        assert provider.send(MESSAGE).ok
        german = Message(to="jürgen@example.com".replace("ü", "u"), subject="Grüße, Jürgen",
                         text="Schöne Grüße", html="<p>Schöne Grüße</p>")  # fmt: skip
        assert provider.send(german).ok
        provider.close()
        untrusted = SmtpProvider(SmtpSettings(host="127.0.0.1", port=port, security="ssl"))
        bad = untrusted.send(MESSAGE)
    finally:
        controller.stop()
    assert len(inbox.arrivals) == 2
    mail = inbox.arrivals[1]
    assert mail["Subject"] == "Grüße, Jürgen"
    assert mail.get_body(("plain",)).get_content() == "Schöne Grüße"
    assert mail.get_body(("html",)).get_content() == "<p>Schöne Grüße</p>"
    # a certificate the client cannot verify: no message, tried again later
    assert (bad.ok, bad.permanent) == (False, False) and "CERTIFICATE_VERIFY_FAILED" in bad.error


def test_a_server_that_is_not_there_is_a_transient_failure():
    provider = SmtpProvider(SmtpSettings(host="127.0.0.1", port=free_port(), security="none"))
    result = provider.send(MESSAGE)
    assert (result.ok, result.permanent) == (False, False)
    assert "ConnectionRefusedError" in result.error


def test_credentials_are_not_sent_in_clear_to_another_host():
    with pytest.raises(ConfigError, match="in clear to smtp.example.com"):
        SmtpSettings(host="smtp.example.com", security="none", username="u", password="p")
    with pytest.raises(ConfigError, match="SMTP security 'tls'"):
        SmtpSettings(security="tls")


def test_a_header_that_would_inject_another_is_refused_permanently():
    provider = SmtpProvider(SmtpSettings(host="127.0.0.1", port=free_port(), security="none"))
    for headers in ({"List-Unsubscribe": "<x>\r\nBcc: all@example.com"}, {"From": "x@y"}):
        bad = Message(to="a@example.com", subject="s", text="t", headers=headers)
        result = provider.send(bad)
        assert (result.ok, result.permanent) == (False, True)


# the signed webhook -------------------------------------------------------


class _Gateway(BaseHTTPRequestHandler):
    answers: list[tuple[int, bytes]] = []
    received: list[tuple[dict, bytes]] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        status, answer = type(self).answers.pop(0)
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    _Gateway.answers, _Gateway.received = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/send", _Gateway
    server.shutdown()
    server.server_close()


def test_the_webhook_is_signed_and_carries_the_idempotency_key(gateway):
    url, handler = gateway
    handler.answers += [(202, b'{"id": "sms_81"}'), (503, b"busy"), (400, b"bad number"),
                        (429, b"slow down"), (200, b"")]  # fmt: skip
    provider = WebhookProvider(url, "whsec_test", name="sms", clock=lambda: 1767225600)
    first = provider.send(MESSAGE)
    assert (first.ok, first.provider_message_id) == (True, "sms_81")
    headers, body = handler.received[0]
    expected = hmac.new(b"whsec_test", b"1767225600." + body, hashlib.sha256).hexdigest()
    assert headers["Tenure-Signature"] == f"t=1767225600,v1={expected}"
    assert headers["Idempotency-Key"] == "loyal:1:C1:2026"
    assert json.loads(body) == {"id": "loyal:1:C1:2026", "to": "ann@example.com",
                                "subject": "Your points", "text": "You have 120 points.",
                                "html": "<p>You have <b>120</b> points.</p>",
                                "customer_id": "C1", "campaign": "loyal"}  # fmt: skip
    busy, refused, slow, plain = (provider.send(MESSAGE) for _ in range(4))
    assert (busy.ok, busy.permanent, busy.error) == (False, False, "HTTP 503 busy")
    assert (refused.ok, refused.permanent, refused.error) == (False, True, "HTTP 400 bad number")
    assert (slow.ok, slow.permanent) == (False, False)
    # no id in the answer: the key stands for it
    assert (plain.ok, plain.provider_message_id) == (True, "loyal:1:C1:2026")


def test_a_webhook_url_must_be_http():
    from tenure.errors import InputError

    with pytest.raises(InputError, match="not an http or https URL"):
        WebhookProvider("ftp://gateway", "s")
