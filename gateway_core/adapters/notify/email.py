"""Mailers: SMTP (smtp:// with optional STARTTLS, smtps://) and the log mailer of the embedded default."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from gateway_core.adapters.notify.tls import system_tls
from gateway_core.ports import Mailer, OutgoingEmail

log = logging.getLogger(__name__)


def mime_message(email: OutgoingEmail) -> EmailMessage:
    """multipart/alternative: the text part first, the HTML part last (clients show the last they can)."""
    message = EmailMessage()
    message["Message-ID"] = email.message_id
    message["Date"] = format_datetime(email.date)
    message["From"] = email.sender
    message["To"] = email.recipient
    message["Subject"] = email.subject
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


class LogMailer:
    """`SMTP_URL=log://`: the email goes to the log (and, like every email, into the emails table)."""

    name = "log"

    def send(self, email: OutgoingEmail) -> None:
        log.info("email (log mailer)", extra={"message_id": email.message_id, "to": email.recipient,
                                              "subject": email.subject, "text": email.text})


class SmtpMailer:
    """SMTP with STARTTLS when offered (`?starttls=required` insists, `?starttls=off` never), or implicit TLS."""

    name = "smtp"

    def __init__(self, host: str, port: int, *, implicit_tls: bool = False, starttls: str = "auto",
                 username: str | None = None, password: str | None = None, timeout: float = 30.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.host, self.port, self.implicit_tls, self.starttls = host, port, implicit_tls, starttls
        self.username, self.password, self.timeout = username, password, timeout
        self.ssl_context = ssl_context or system_tls()

    def send(self, email: OutgoingEmail) -> None:
        client: smtplib.SMTP
        if self.implicit_tls:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self.ssl_context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            client.ehlo()
            if not self.implicit_tls and self.starttls != "off":
                if client.has_extn("starttls"):
                    client.starttls(context=self.ssl_context)
                    client.ehlo()
                elif self.starttls == "required":
                    raise smtplib.SMTPNotSupportedError("the SMTP server does not offer STARTTLS")
            if self.username:
                client.login(self.username, self.password or "")
            client.send_message(mime_message(email), from_addr=parseaddr(email.sender)[1],
                                to_addrs=[parseaddr(email.recipient)[1]])


def mailer_from_url(url: str) -> Mailer:
    """SMTP_URL: log://, smtp://user:pass@host:port[?starttls=auto|required|off], smtps://user:pass@host:port."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("", "log"):
        return LogMailer()
    if scheme not in ("smtp", "smtps"):
        raise ValueError(f"SMTP_URL scheme {scheme!r} is not log, smtp or smtps")
    starttls = parse_qs(parts.query).get("starttls", ["auto"])[0].lower()
    if starttls not in ("auto", "required", "off"):
        raise ValueError("SMTP_URL starttls must be auto, required or off")
    return SmtpMailer(parts.hostname or "localhost", parts.port or (465 if scheme == "smtps" else 25),
                      implicit_tls=scheme == "smtps", starttls=starttls,
                      username=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password) if parts.password else None)


def sender_address(mail_from: str, public_url: str, display_name: str) -> str:
    """`"Shop via voltbridge" <voltbridge@host>`: MAIL_FROM, else an address at the public URL's host."""
    address = parseaddr(mail_from)[1] if mail_from else ""
    if not address:
        host = urlsplit(public_url).hostname or "localhost"
        host = host if "." in host and not host.replace(".", "").isdigit() else "localhost"
        address = f"voltbridge@{host}"
    return formataddr((f"{display_name} via voltbridge" if display_name else "voltbridge", address))
