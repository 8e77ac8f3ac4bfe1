#!/usr/bin/env python3
"""oauthlab: OAuth 2.0 reference servers on aiohttp and a conformance harness.  See --help."""
import sys

from cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
