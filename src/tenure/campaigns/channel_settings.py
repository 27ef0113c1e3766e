"""The channels of ``tenure.toml``'s ``[campaigns]`` table, checked.

::

    [campaigns.smtp]                     # the email channel
    host = "smtp.shop.example"
    port = 587
    security = "starttls"                # starttls (587), ssl (465) or none (a relay on localhost)
    username = "news"                    # the password: TENURE_SMTP_PASSWORD
    from = "news@shop.example"
    from_name = "Shop"
    cafile = "/etc/ssl/shop-ca.pem"      # a private CA; default: the system's

    [campaigns.webhooks.sms]             # a channel named sms, posted to a gateway
    url = "https://gateway.shop.example/sms"
    secret_env = "TENURE_SMS_SECRET"     # the variable that holds the signing secret

Secrets are never written in the file: the SMTP password is read from
``TENURE_SMTP_PASSWORD``, a webhook's secret from the variable it names.
Every error names the file, the key, the value and what to write instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from tenure.campaigns.channels.base import Provider
from tenure.errors import ConfigError, TenureError

SMTP_KEYS = {"host", "port", "security", "username", "from", "from_name", "cafile", "timeout"}
WEBHOOK_KEYS = {"url", "secret_env"}


def _origin(settings: Any) -> str:
    return settings.campaigns.origin or "tenure.toml"


def _text(where: str, key: str, value: Any, example: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} {key} = {value!r}: it must be a text.",
                          hint=f"Write it as {example}.", column=key, value=str(value))  # fmt: skip
    return value.strip()


def smtp_provider(table: Mapping[str, Any], origin: str) -> Provider:
    from tenure.campaigns.channels.smtp import SmtpProvider, SmtpSettings

    where = f"{origin} [campaigns.smtp]"
    for key in table:
        if key not in SMTP_KEYS:
            raise ConfigError(f"{where}: unknown setting {key!r}.",
                              hint=f"Known settings here: {', '.join(sorted(SMTP_KEYS))}. "
                              "The password is read from TENURE_SMTP_PASSWORD.", column=key)  # fmt: skip
    if "from" not in table:
        raise ConfigError(f"{where}: from is missing: the address the e-mails come from.",
                          hint='Write from = "news@shop.example".', column="from")  # fmt: skip
    port = table.get("port", 587)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"{where} port = {port!r}: it must be a port number.",
                          hint="Write it as port = 587.", column="port", value=str(port))  # fmt: skip
    values: dict[str, Any] = {
        "host": _text(where, "host", table.get("host", "localhost"), 'host = "smtp.shop.example"'),
        "port": port,
        "security": _text(where, "security", table.get("security", "starttls"),
                          'security = "starttls"'),  # fmt: skip
        "sender": _text(where, "from", table["from"], 'from = "news@shop.example"'),
        "password": os.environ.get("TENURE_SMTP_PASSWORD"),
    }
    for key, field, example in (("username", "username", 'username = "news"'),
                                ("from_name", "sender_name", 'from_name = "Shop"'),
                                ("cafile", "cafile", 'cafile = "/etc/ssl/shop-ca.pem"')):  # fmt: skip
        if key in table:
            values[field] = _text(where, key, table[key], example)
    if "timeout" in table:
        timeout = table["timeout"]
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigError(f"{where} timeout = {timeout!r}: it must be seconds above 0.",
                              hint="Write it as timeout = 30.", column="timeout")  # fmt: skip
        values["timeout"] = float(timeout)
    if values.get("username") and not values["password"]:
        raise ConfigError(f"{where} username = {values['username']!r}, but TENURE_SMTP_PASSWORD "
                          "is not set.", hint="Set TENURE_SMTP_PASSWORD to the SMTP password.",
                          column="username")  # fmt: skip
    try:
        return SmtpProvider(SmtpSettings(**values))
    except TenureError as exc:
        raise ConfigError(f"{where}: {exc.what}", hint=exc.hint) from None


def webhook_provider(name: str, table: Any, origin: str) -> Provider:
    from tenure.campaigns.channels.webhook import WebhookProvider

    where = f"{origin} [campaigns.webhooks.{name}]"
    example = 'url = "https://gateway.shop.example/sms" and secret_env = "TENURE_SMS_SECRET"'
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: it must be a table.", hint=f"Write {example}.", column=name)
    for key in table:
        if key not in WEBHOOK_KEYS:
            raise ConfigError(f"{where}: unknown setting {key!r}.",
                              hint=f"Known settings here: {', '.join(sorted(WEBHOOK_KEYS))}. "
                              "The secret is read from the variable secret_env names.",
                              column=key)  # fmt: skip
    for key in ("url", "secret_env"):
        if key not in table:
            raise ConfigError(f"{where}: {key} is missing.", hint=f"Write {example}.", column=key)
    variable = _text(where, "secret_env", table["secret_env"], 'secret_env = "TENURE_SMS_SECRET"')
    secret = os.environ.get(variable)
    if not secret:
        raise ConfigError(f"{where} secret_env = {variable!r}, but {variable} is not set.",
                          hint=f"Set {variable} to the secret the gateway checks signatures "
                          "with.", column="secret_env")  # fmt: skip
    try:
        return WebhookProvider(_text(where, "url", table["url"], example), secret, name=name)
    except TenureError as exc:
        raise ConfigError(f"{where} url: {exc.what}", hint=exc.hint, column="url") from None


def providers_from_settings(settings: Any) -> dict[str, Provider]:
    """The channels of ``[campaigns]``, by name (``email`` for SMTP); empty
    when none is configured."""
    raw = dict(settings.campaigns.values)
    origin = _origin(settings)
    providers: dict[str, Provider] = {}
    if "smtp" in raw:
        if not isinstance(raw["smtp"], dict):
            raise ConfigError(f"{origin}: [campaigns] smtp must be a table.",
                              hint="Write it under a [campaigns.smtp] heading.", column="smtp")  # fmt: skip
        providers["email"] = smtp_provider(raw["smtp"], origin)
    hooks = raw.get("webhooks", {})
    if not isinstance(hooks, dict):
        raise ConfigError(f"{origin}: [campaigns] webhooks must be a table.",
                          hint="Write each under a [campaigns.webhooks.NAME] heading.",
                          column="webhooks")  # fmt: skip
    for name, table in hooks.items():
        if name in providers:
            raise ConfigError(f"{origin} [campaigns.webhooks.{name}]: the channel {name!r} is "
                              "the SMTP channel's.", hint="Name the webhook channel otherwise.",
                              column=name)  # fmt: skip
        providers[name] = webhook_provider(name, table, origin)
    return providers
