"""Channels a campaign message is delivered through.

Each is a :class:`~tenure.campaigns.channels.base.Provider`: ``send(message)``
returns a :class:`~tenure.campaigns.channels.base.Result` that says whether
the provider took the message (with its id for it) or, if not, whether
trying again could help. ``smtp`` sends e-mail; ``webhook`` posts signed
JSON to a shop's own SMS or push gateway.
"""

from tenure.campaigns.channels.base import Message, Provider, Result

__all__ = ["Message", "Provider", "Result"]
