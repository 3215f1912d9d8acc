"""Offline enrichment of attacker addresses: country (RIR), ASN (ip2asn), PTR names.

All lookups are "never raise": a missing or damaged data file gives an empty
index (logged once), an unknown address gives None.
"""
