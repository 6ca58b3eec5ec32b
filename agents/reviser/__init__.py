"""Revisers: turn a request in words into a typed list of edits (offline grammar or LLM)."""
