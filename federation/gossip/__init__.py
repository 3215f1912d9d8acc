"""Gossip: origin-signed identity summaries spread by anti-entropy, membership, discovery."""
