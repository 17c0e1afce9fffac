"""Campaigns: one reward gifted to a list of participants (CONTRACT §8)."""
