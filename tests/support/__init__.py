"""Test support: deliberately vulnerable servers and harness helpers (tests only)."""
