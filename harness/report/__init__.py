"""The human-readable reports of a run (text, Markdown, HTML), findings first. ``harness.reporters`` is the
entry point (``render``, ``write_reports``) and holds the machine formats (JSON, JUnit); ``harness.sarif``
writes SARIF 2.1.0."""
