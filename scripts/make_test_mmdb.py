#!/usr/bin/env python3
"""Writes a small MaxMind DB country file for tests: make_test_mmdb.py OUT CIDR=CC ...

The server reads GeoLite2-Country/DB-IP/IPinfo files in this format; tests need one
whose answers they choose. Needs `mmdb-writer` and `netaddr` (scripts/test.sh installs
them)."""
import sys

from mmdb_writer import MMDBWriter
from netaddr import IPSet

out, *pairs = sys.argv[1:]
w = MMDBWriter(ip_version=6, database_type="GeoLite2-Country", languages=["en"],
               description="itarvault test country database", ipv4_compatible=True)
for pair in pairs:
    cidr, cc = pair.split("=")
    w.insert_network(IPSet([cidr]), {"country": {"iso_code": cc}})
w.to_db_file(out)
