"""Lifecycle campaigns with holdouts, and the measurement of their lift."""
