"""Lifecycle campaigns: triggers, journeys, audiences and holdouts, consent
and sending rules, messages and their delivery, and their measurement
(docs/campaigns.md)."""
