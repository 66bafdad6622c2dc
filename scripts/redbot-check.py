#!/usr/bin/env python3
"""REDbot, the HTTP linter (redbot.org), on answers of ours: fails on any note about caching at
level WARN or BAD, and then prints every note REDbot made about that answer.

Usage: redbot-check.py 'METHOD URL [ACCEPT]'...
Run by the Python of REDbot's venv, which `make deps` makes (scripts/test-caching.sh does).
"""
import sys
from configparser import ConfigParser

import thor
from redbot.resource import HttpResource


def check(method, url, accept):
    """The status REDbot got, and its notes: (category, level, summary)."""
    config = ConfigParser()
    # Our servers are on loopback, which REDbot's web front refuses unless told.
    config.read_dict({"redbot": {"enable_local_access": "True"}})
    resource = HttpResource(config["redbot"])
    resource.set_request(url, method=method, headers=[("Accept", accept)] if accept else [])

    @thor.events.on(resource)
    def check_done():
        thor.stop()

    resource.check()
    thor.run()
    notes = [(n.category.name, n.level.name, n.summary) for n in resource.response.notes]
    return resource.response.status_code, notes


def main(specs):
    failed = 0
    for spec in specs:
        method, url, *accept = spec.split()
        status, notes = check(method, url, accept[0] if accept else None)
        warnings = [n for n in notes if n[0] == "CACHING" and n[1] in ("WARN", "BAD")]
        what = f"{method} {url}" + (f" (Accept: {accept[0]})" if accept else "")
        if status is None or warnings:
            failed += 1
            print(f"FAIL: REDbot on {what}: HTTP {status}, caching warnings: {len(warnings)}")
            for category, level, summary in notes:
                print(f"    {level:5} {category:12} {summary}")
        else:
            caching = "; ".join(s for c, _, s in notes if c == "CACHING")
            print(f"PASS: REDbot on {what}: HTTP {status}, no caching warning ({caching})")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
