"""The provider interface: what a channel is given and what it answers.

A provider is anything with a ``name``, an ``idempotent`` flag and a
``send(message) -> Result`` method (a :class:`typing.Protocol`: no base class
to inherit). The sender calls ``send`` at least once per message, and again
after a crash between the provider's answer and the sender's record of it,
always with the same :attr:`Message.idempotency_key`: a provider that honours
idempotency keys (``idempotent = True``) delivers it once; SMTP has no such
key, so the key becomes the e-mail's ``Message-ID``, by which receiving
systems drop a copy.

A failure is *permanent* when sending the same message again cannot succeed
(an address that does not exist, a request the provider refuses): the
sender records it as failed with the provider's words. Anything else (a
timeout, a refused connection, a server busy) is *transient*, and the
message is tried again after a backoff.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Message:
    """One rendered message to one recipient."""

    to: str  # an e-mail address, a phone number, a device token
    subject: str
    text: str
    html: str | None = None
    # the dedup key of the outbox row: the provider's idempotency key
    idempotency_key: str = ""
    # extra headers from the caller (List-Unsubscribe, List-Unsubscribe-Post)
    headers: Mapping[str, str] = field(default_factory=dict)
    customer_id: str = ""
    campaign: str = ""


@dataclass(frozen=True)
class Result:
    """What a provider answered."""

    ok: bool
    provider_message_id: str | None = None
    permanent: bool = False  # a failure that a retry cannot mend
    error: str | None = None

    @classmethod
    def sent(cls, provider_message_id: str | None) -> Result:
        return cls(True, provider_message_id)

    @classmethod
    def failed(cls, error: str, *, permanent: bool) -> Result:
        return cls(False, None, permanent, error[:1000])


@runtime_checkable
class Provider(Protocol):
    """A channel's sender of messages."""

    name: str
    # whether the provider itself delivers a message once per idempotency key
    idempotent: bool

    def send(self, message: Message) -> Result: ...
