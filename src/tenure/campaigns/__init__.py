"""Lifecycle campaigns: who is contacted, with what, and whether it worked."""
