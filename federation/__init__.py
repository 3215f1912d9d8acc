"""Talking to other nodes: keys, signed envelopes, trust, privacy policy, gRPC."""
