"""backend4 benchmark: GET /users/me with a valid RS256 token from oauth-proxy against GET /health of
the same backend4, loaded from a second process (wrk if installed, else the Python load generator).

    python bench/bench_backend4.py [--seconds 4] [--rounds 3] [--connections 32] [--python-load]

Both servers run for real (``run.py serve``); the token is a client_credentials token of the seeded ``m2m``
client with scope ``me``, so every /users/me request goes through bearer parsing, the verified-token cache
(a SHA-256 and a dictionary look-up for a token already seen), the scope check and a JSON answer.
For context it also prints what a cold verification costs (distinct tokens, in-process: JWKS key look-up,
RSA-2048 signature check, claims), which is what the cache saves.

Target: /users/me >= 80% of /health requests/s. Absolute numbers on a shared machine are noise; the ratio
within one run is the result.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import client_credentials_token, load, process_cpu, server  # noqa: E402

AUDIENCE = "http://127.0.0.1:9000"  # the proxy's default audience (backend4's default identifier)


def measure(url: str, headers: dict, pid: int, **kw):
    """One load run, plus the server's CPU microseconds per request (steadier than req/s when neighbours
    share the cores: it counts only what the server itself spent)."""
    before = process_cpu(pid)
    result = load(url, headers, **kw)
    after = process_cpu(pid)
    cpu_us = (after - before) / result.requests * 1e6 if before is not None and after is not None and \
        result.requests else float("nan")
    return result, cpu_us


def cold_verifications_per_second(n: int = 400) -> float:
    """In-process: TokenVerifier with backend4's policy and its cache disabled, n distinct RS256 tokens."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    from servers.backend4 import token_policy
    from servers.common.settings import Settings
    from servers.common.tokens import TokenVerifier, standard_claims

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings = Settings(name="backend4", upstream_issuer="http://issuer.test", audience=AUDIENCE)
    public = key.public_key()

    async def resolve(header: dict):
        return public

    verifier = TokenVerifier(token_policy(settings), resolve, cache_size=0)
    tokens = [jwt.encode(standard_claims(issuer="http://issuer.test", audience=AUDIENCE, subject="johndoe",
                                         ttl=600, client_id="m2m", scope="me"),
                         key, algorithm="RS256", headers={"typ": "at+jwt", "kid": "k"}) for _ in range(n)]

    async def run() -> float:
        t = time.perf_counter()
        for tok in tokens:
            await verifier.verify(tok)
        return time.perf_counter() - t

    return n / asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--python-load", action="store_true", help="use the Python load generator even if wrk exists")
    args = p.parse_args(argv)
    with server("oauth-proxy", env={"OAUTHLAB_BCRYPT_ROUNDS": "4"}) as (proxy, proxy_dir, _):
        with server("backend4", "--upstream-issuer", proxy, "--audience", AUDIENCE) as (api, _, proc):
            token = client_credentials_token(proxy, proxy_dir / "keys")
            auth = {"Authorization": f"Bearer {token}"}
            with urllib.request.urlopen(urllib.request.Request(api + "/users/me", headers=auth)) as r:
                assert r.status == 200, r.status  # the token really is accepted before we measure
            kw = {"seconds": args.seconds, "connections": args.connections, "force_python": args.python_load}
            load(api + "/health", seconds=1, connections=args.connections, force_python=args.python_load)
            load(api + "/users/me", auth, seconds=1, connections=args.connections, force_python=args.python_load)
            # Alternate the two endpoints and keep the median run of each: on a shared machine the load of
            # the neighbours changes from second to second, and alternating spreads it over both.
            healths, mes, cpu_health, cpu_me = [], [], [], []
            for _ in range(args.rounds):
                r, c = measure(api + "/health", {}, proc.pid, **kw)
                healths.append(r)
                cpu_health.append(c)
                r, c = measure(api + "/users/me", auth, proc.pid, **kw)
                mes.append(r)
                cpu_me.append(c)
    health = sorted(healths, key=lambda r: r.rps)[len(healths) // 2]
    me = sorted(mes, key=lambda r: r.rps)[len(mes) // 2]
    cpu_h, cpu_m = sorted(cpu_health)[len(cpu_health) // 2], sorted(cpu_me)[len(cpu_me) // 2]
    ratio = me.rps / health.rps if health.rps else 0.0
    generator = "Python aiohttp" if args.python_load else "wrk (if installed) or Python aiohttp"
    print(f"backend4 (RS256 tokens from oauth-proxy), load from a second process ({generator}), "
          f"{args.connections} connections, {args.rounds} alternating rounds of {args.seconds} s, median run")
    print(health.line("GET /health"))
    print(me.line("GET /users/me (valid RS256 token)"))
    print(f"{'ratio /users/me : /health':<34} {ratio:9.2f}   (target >= 0.80)")
    print(f"{'  per round':<34} " + "  ".join(f"{m.rps / h.rps:.2f}" for h, m in zip(healths, mes)))
    print(f"{'server CPU per request':<34} /health {cpu_h:.0f} us, /users/me {cpu_m:.0f} us "
          f"(ratio {cpu_h / cpu_m:.2f}: the same comparison, counted in the server's own CPU time)")
    cold = cold_verifications_per_second()
    print(f"{'cold RS256 verification (no cache)':<34} {cold:9.0f} tokens/s in-process, "
          f"{1000 / cold:.3f} ms each")
    ok = ratio >= 0.80 and me.errors == 0 and health.errors == 0
    print("OK" if ok else "BELOW TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
