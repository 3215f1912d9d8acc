"""Blind questions: an oblivious PRF, so a peer answers about a value it never sees."""
