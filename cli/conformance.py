"""``run.py conformance``: replay the attack catalog against servers and print a checklist.

With no ``--target``: start every reference server that exists (backend, backend2, backend3, oauth-proxy,
backend4) as ``run.py serve`` subprocesses on free ports with throwaway keys and data (a temporary
directory), fill in their profiles from conformance/targets/*.toml, run the whole catalog against all of
them, and exit 0 only if every applicable scenario passes. Exit codes: 0 all pass, 1 findings, 2 usage,
configuration or unreachable target.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

from . import color_enabled, review
from .processes import free_port, wait_http

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "conformance" / "targets"
# Our servers in start order, with their profile template. backend4 trusts oauth-proxy, so it starts after it.
OUR_SERVERS = ("backend", "backend2", "backend3", "oauth-proxy", "backend4")
TEMPLATE_URLS = {"server": "http://127.0.0.1:9000", "proxy": "http://127.0.0.1:9001"}
FORMATS = ("text", "json", "junit", "markdown", "html", "sarif")


def available_servers() -> list[str]:
    """Our servers that exist in this checkout (registry entry + module + profile template)."""
    from servers.registry import SERVERS
    out = []
    for name in OUR_SERVERS:
        module = SERVERS.get(name)
        if module is None or not (TEMPLATES / f"{name}.toml").exists():
            continue
        try:
            if importlib.util.find_spec(module) is None:
                continue
        except ModuleNotFoundError:
            continue
        out.append(name)
    return out


def _replace_urls(value, mapping: dict[str, str]):
    if isinstance(value, str):
        for old, new in mapping.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {k: _replace_urls(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_urls(v, mapping) for v in value]
    return value


class OurServers:
    """Start our servers on free ports in a temporary directory; stop them (and only them) on exit."""

    def __init__(self, names: list[str], log=None) -> None:
        self.names = names
        self.tmp = Path(tempfile.mkdtemp(prefix="oauthlab-conformance-"))
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}
        self.log = log

    def _start(self, name: str, extra: list[str]) -> None:
        port = self.ports.get(name) or free_port()
        d = self.tmp / name
        (d / "keys").mkdir(parents=True, exist_ok=True)
        os.chmod(d / "keys", 0o700)
        logf = open(d / "server.log", "w")
        cmd = [sys.executable, str(ROOT / "run.py"), "serve", name, "--port", str(port),
               "--data-dir", str(d / "data"), "--keys-dir", str(d / "keys"), "--log-level", "warning", *extra]
        # Throwaway servers hash with bcrypt cost 4: the cost factor changes how long a login takes, not
        # what the server answers, and the catalog logs in dozens of times (cost 12: ~0.3 s each).
        env = {**os.environ, "OAUTHLAB_BCRYPT_ROUNDS": os.environ.get("OAUTHLAB_CONFORMANCE_BCRYPT_ROUNDS", "4")}
        self.procs[name] = subprocess.Popen(cmd, cwd=ROOT, stdout=logf, stderr=subprocess.STDOUT, env=env)
        self.ports[name] = port

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self) -> None:
        """Start all but backend4 at once; backend4 as soon as oauth-proxy answers (it trusts that issuer
        and would otherwise answer 503 until its background key fetch retries)."""
        for name in self.names:
            self.ports[name] = free_port()
        for name in self.names:
            if name != "backend4":
                self._start(name, [])
        if "backend4" in self.names:
            extra = []
            if "oauth-proxy" in self.names:
                self._wait(["oauth-proxy"])
                extra = ["--upstream-issuer", self.url("oauth-proxy")]
            self._start("backend4", extra)
        self._wait(self.names)

    def _wait(self, names: list[str]) -> None:
        for name in names:
            try:
                wait_http(self.url(name) + "/health", self.procs[name])
            except RuntimeError as exc:
                log = (self.tmp / name / "server.log").read_text()[-400:]
                raise StartError(f"{name} did not start: {exc}\n{log}") from None

    def load_profiles(self):
        from harness.targets import profile_from_dict, read_toml
        targets = []
        for name in self.names:
            path = TEMPLATES / f"{name}.toml"
            data = read_toml(path)
            mapping = {TEMPLATE_URLS["server"]: self.url(name)}
            if "oauth-proxy" in self.ports:
                mapping[TEMPLATE_URLS["proxy"]] = self.url("oauth-proxy")
            if name == "oauth-proxy":
                mapping = {TEMPLATE_URLS["proxy"]: self.url(name)}
            data = _replace_urls(data, mapping)
            res = data.get("resource", {})
            if isinstance(res, dict):
                keys_dir = self.tmp / ("oauth-proxy" if name == "backend4" else name) / "keys"
                if res.get("secret_file"):
                    res["secret_file"] = str(keys_dir / Path(res["secret_file"]).name)
                if res.get("private_key_file"):
                    res["private_key_file"] = str(current_signing_key(keys_dir))
            asd = data.get("authorization_server", {})
            secret = self.tmp / name / "keys" / f"client-secret-{asd.get('confidential_client_id')}"
            if isinstance(asd, dict) and asd.get("confidential_client_id") and secret.exists():
                asd.pop("confidential_client_secret_env", None)
                asd["confidential_client_secret"] = secret.read_text().strip()
            targets.append(profile_from_dict(data, path))
        return targets

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)


def current_signing_key(keys_dir: Path) -> Path:
    """oauth-proxy's current RS256 signing key: the one its index (oauth-proxy-jwks.json) names as signing,
    else the newest ``*.pem`` in its keys dir."""
    import json
    try:
        index = json.loads((keys_dir / "oauth-proxy-jwks.json").read_text())
        entry = next(k for k in index["keys"] if k["kid"] == index["signing"])
        return keys_dir / entry["file"]
    except (OSError, ValueError, KeyError, StopIteration, TypeError):
        pass
    pems = sorted(keys_dir.glob("*.pem"), key=lambda p: p.stat().st_mtime)
    if not pems:
        raise StartError(f"no RS256 key (*.pem) in {keys_dir}: oauth-proxy did not create one")
    return pems[-1]


class StartError(Exception):
    """One of our servers did not start (the log tail says why)."""
    exit_code = 2  # printed as one line by cli.main


@contextlib.contextmanager
def our_servers(names: list[str]) -> Iterator[OurServers]:
    servers = OurServers(names)
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()


def list_catalog(catalog, not_applicable, stream=None) -> None:
    stream = stream or sys.stdout
    width = max(len(s.id) for s in catalog) if catalog else 10
    for s in catalog:
        mark = "slow" if "slow" in s.tags else ""
        stream.write(f"{s.id:<{width}}  {s.applies_to:<20} {s.severity:<8} {mark:<4} {', '.join(s.refs)}\n"
                     f"{'':<{width}}  {s.summary}\n")
    if not_applicable:
        stream.write("\nNot run (with the reason):\n")
        for k, v in sorted(not_applicable.items()):
            stream.write(f"{k:<{width}}  {v}\n")
    slow = sum("slow" in s.tags for s in catalog)
    stream.write(f"\n{len(catalog)} scenarios ({slow} marked slow: they run only with --slow), "
                 f"{len(not_applicable)} rows not applicable\n")


def catalog_markdown(catalog, not_applicable) -> str:
    """The catalog as a Markdown page (docs/catalog.md is this output): one table per family, in catalog
    order, then the rows not run with their reasons."""
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["# The attack catalog", "",
             "Generated from the code by `python run.py conformance --list --format markdown`; do not edit by hand.",
             "", f"{len(catalog)} scenarios, {len(not_applicable)} rows not applicable.", ""]
    families: dict[str, list] = {}
    for s in catalog:
        families.setdefault(s.family, []).append(s)
    for family, scenarios in families.items():
        lines += [f"## {family} ({len(scenarios)})", "", "| id | applies to | severity | refs | what it checks |",
                  "|---|---|---|---|---|"]
        lines += [f"| `{s.id}` | {s.applies_to} | {s.severity}{' (slow)' if 'slow' in s.tags else ''} | "
                  f"{cell(', '.join(s.refs))} | {cell(s.summary)} |" for s in scenarios]
        lines.append("")
    if not_applicable:
        lines += ["## Not run, and why", "", "| row | reason |", "|---|---|"]
        lines += [f"| `{k}` | {cell(v)} |" for k, v in sorted(not_applicable.items())]
        lines.append("")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from conformance import CATALOG, NOT_APPLICABLE
    from harness import reporters, runner
    from harness.targets import load_profile

    if args.list:
        listed = runner.select(CATALOG, args.only, args.skip, args.severity)
        if (args.format or ["text"]) == ["markdown"]:
            sys.stdout.write(catalog_markdown(listed, NOT_APPLICABLE))
        else:
            list_catalog(listed, NOT_APPLICABLE)
        return 0
    bad = runner.unknown_selectors(CATALOG, args.only + args.skip)
    if bad:
        print(f"error: unknown scenario id or family: {', '.join(bad)} (see --list)", file=sys.stderr)
        return 2
    if args.jobs < 1:
        print("error: --jobs must be at least 1", file=sys.stderr)
        return 2
    formats = args.format or ["text"]
    if len(formats) > 1 and not args.output:
        print("error: several --format values need --output DIR", file=sys.stderr)
        return 2
    catalog = runner.select(CATALOG, args.only, args.skip, args.severity)
    accepted = review.load_baseline(args)
    servers = None
    try:
        if args.target:
            targets = [load_profile(p) for p in args.target]
        else:
            names = available_servers()
            if args.servers:
                names = [n for n in names if n in args.servers]
            servers = OurServers(names)
            print(f"starting {', '.join(names)} on free ports (throwaway keys and data in {servers.tmp})",
                  file=sys.stderr)
            servers.start()
            targets = servers.load_profiles()
        progress = runner.Progress(0)

        def unreachable(info) -> None:
            print(f"error: {info.message}", file=sys.stderr)

        report = asyncio.run(runner.run(targets, catalog, jobs=args.jobs, progress=progress, slow=args.slow,
                                        on_target_error=unreachable))
    finally:
        if servers is not None:
            servers.stop()
    report.fail_on = args.fail_on
    report, advice = review.review(args, report, accepted)
    color = color_enabled(sys.stdout)
    if args.output:
        written = reporters.write_reports(report, [f for f in formats if f != "text"] or formats, args.output,
                                          NOT_APPLICABLE, advice=advice, reveal=args.reveal)
        sys.stdout.write(reporters.text(report, color=color, verbose=args.verbose, advice=advice, reveal=args.reveal))
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
    else:
        sys.stdout.write(reporters.render(formats[0], report, NOT_APPLICABLE, color=color, verbose=args.verbose,
                                          advice=advice, reveal=args.reveal))
    return report.exit_code()


def register(sub) -> None:
    p = sub.add_parser(
        "conformance", help="replay the attack catalog against servers (ours by default)",
        description="Replay the OAuth 2.0 / JWT attack catalog. Without --target, start all our reference servers "
                    "on free ports with throwaway keys and data and check them all. Exit codes: 0 no open finding at "
                    "or above --fail-on and no error, 1 findings (not baselined) or errors, 2 usage/configuration error "
                    "or unreachable target.")
    p.add_argument("--target", action="append", default=[], metavar="FILE",
                   help="a target profile (TOML); repeatable. Default: our own servers")
    p.add_argument("--only", action="append", default=[], metavar="ID|FAMILY",
                   help="run only these scenario ids or families (sig, key, time, claims, aud, ...); repeatable")
    p.add_argument("--skip", action="append", default=[], metavar="ID|FAMILY", help="skip these; repeatable")
    p.add_argument("--severity", choices=runner_severities(), help="run only scenarios of at least this severity")
    p.add_argument("--fail-on", choices=runner_severities() + ("info", "never"), default="low", metavar="LEVEL",
                   help="exit 1 when a finding of at least this severity is found: critical|high|medium|low|info|never "
                        "(default low: every vulnerability and every deviation from a MUST; deviations from a SHOULD "
                        "are info). Errors always exit 1")
    p.add_argument("--list", action="store_true",
                   help="print the catalog (ids, refs, summaries) and exit; with --format markdown as a Markdown page")
    p.add_argument("--slow", action="store_true",
                   help="also run the scenarios marked slow in --list (they wait up to minutes each); without it they "
                        "are not-applicable")
    p.add_argument("--jobs", type=int, default=8, metavar="N", help="scenarios run concurrently (default 8)")
    p.add_argument("--format", action="append", choices=FORMATS, metavar="FMT",
                   help="text|json|junit|markdown|html|sarif; repeatable with --output (default text)")
    p.add_argument("--output", metavar="DIR", help="write the reports (conformance.json, .xml, .md, .html, .sarif) here")
    review.add_arguments(p)
    p.add_argument("--servers", action="append", metavar="NAME", help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="store_true", help="also list not-applicable scenarios with reasons")
    p.set_defaults(func=run)


def runner_severities() -> tuple[str, ...]:
    return ("critical", "high", "medium", "low")
