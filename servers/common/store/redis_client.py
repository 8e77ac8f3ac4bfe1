"""Redis connections from a store URL: one server, a Sentinel-managed master, or a Redis Cluster.

    redis://[[user]:password@]host:port/db        one server (rediss:// for TLS)
    unix://[[user]:password@]/path/to/redis.sock?db=N
    redis+sentinel://[[user]:password@]host:port[,host:port...]/service_name[/db][?sentinel_password=...]
    redis+cluster://[[user]:password@]host:port[,host:port...]    (rediss+cluster:// for TLS)

One server and Sentinel also take ``?wait_for_replicas=N[&wait_timeout_ms=T]``: each write is confirmed
only once N replicas hold it (Redis WAIT), so that a failover does not lose it.

With Sentinel, the hosts are the sentinels (default port 26379) and ``service_name`` is the name they
monitor (``sentinel monitor NAME ...``); the password and user are the master's, ``sentinel_password``
the sentinels' own if they have one. With Cluster, the hosts are any of its nodes (default port 6379),
from which redis-py learns the rest; a cluster has one database, 0.

The clients are redis-py's own (``Sentinel.master_for``, ``RedisCluster``): a failover or a moved slot is
followed by them, not by code of ours.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff, NoBackoff

from ..settings import ConfigError

SENTINEL_SCHEMES = ("redis+sentinel",)
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SINGLE_SCHEMES = ("redis", "rediss", "unix")
SCHEMES = SINGLE_SCHEMES + SENTINEL_SCHEMES + CLUSTER_SCHEMES
STORE_OPTIONS = ("wait_for_replicas", "wait_timeout_ms")  # read by the store, not by redis-py


@dataclass(frozen=True)
class RedisURL:
    """A parsed multi-host store URL (Sentinel or Cluster)."""
    scheme: str
    hosts: tuple[tuple[str, int], ...]
    username: str | None
    password: str | None
    path: tuple[str, ...]
    query: dict[str, str]


def redact(url: str) -> str:
    """The URL without its passwords, for logs and error messages."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        userinfo, host = authority.rsplit("@", 1)
        user = userinfo.split(":", 1)[0] if ":" in userinfo else ""
        authority = f"{user}:***@{host}"
    if "password=" in tail:
        parts = urlsplit("x://h/" + tail)
        query = "&".join(f"{k}=***" if "password" in k else f"{k}={v[0]}"
                         for k, v in parse_qs(parts.query, keep_blank_values=True).items())
        tail = urlunsplit(parts._replace(query=query))[len("x://h/"):]
    return f"{scheme}://{authority}{slash}{tail}"


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def _host_port(text: str, default_port: int, url: str) -> tuple[str, int]:
    if text.startswith("["):  # [IPv6]:port
        host, _, port = text[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    try:
        number = int(port) if port else default_port
    except ValueError:
        raise ConfigError(f"--store {redact(url)}: {text!r} is not host:port") from None
    if not host or not 0 < number < 65536:
        raise ConfigError(f"--store {redact(url)}: {text!r} is not host:port")
    return host, number


def parse_multi_host(url: str, default_port: int) -> RedisURL:
    """``scheme://[[user]:password@]host:port[,host:port...][/path...][?query]``."""
    scheme, _, rest = url.partition("://")
    rest, _, query = rest.partition("?")
    authority, _, path = rest.partition("/")
    username = password = None
    if "@" in authority:
        userinfo, authority = authority.rsplit("@", 1)
        user, sep, pw = userinfo.partition(":")
        username, password = (unquote(user) or None), (unquote(pw) if sep else None)
    hosts = tuple(_host_port(h.strip(), default_port, url) for h in authority.split(",") if h.strip())
    if not hosts:
        raise ConfigError(f"--store {redact(url)}: no host:port given")
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    allowed = STORE_OPTIONS + (("sentinel_password",) if scheme.lower() in SENTINEL_SCHEMES else ())
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ConfigError(f"--store {redact(url)}: unknown option(s) {', '.join(unknown)}"
                          f"{' (known: ' + ', '.join(allowed) + ')' if allowed else ''}")
    return RedisURL(scheme.lower(), hosts, username, password,
                    tuple(unquote(p) for p in path.split("/") if p), params)


def replica_acks(url: str) -> tuple[int, int]:
    """``?wait_for_replicas=N[&wait_timeout_ms=T]`` (one server or Sentinel): every write waits until N
    replicas have it, at most T ms (default 500). (0, 0) when not asked for."""
    query = parse_qs(url.partition("?")[2])
    if "wait_for_replicas" not in query:
        return 0, 0
    if scheme_of(url) in CLUSTER_SCHEMES:
        raise ConfigError(f"--store {redact(url)}: wait_for_replicas is for one server or Sentinel")
    try:
        n, ms = int(query["wait_for_replicas"][-1]), int(query.get("wait_timeout_ms", ["500"])[-1])
    except ValueError:
        raise ConfigError(f"--store {redact(url)}: wait_for_replicas and wait_timeout_ms are numbers") from None
    if n < 0 or ms <= 0:
        raise ConfigError(f"--store {redact(url)}: wait_for_replicas >= 0 and wait_timeout_ms > 0")
    return n, ms


def _strip_store_options(url: str) -> str:
    """The URL without the store's own query options (redis-py would reject them)."""
    base, _, query = url.partition("?")
    kept = [part for part in query.split("&") if part and part.split("=", 1)[0] not in STORE_OPTIONS]
    return base + ("?" + "&".join(kept) if kept else "")


def _db(text: str, url: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"--store {redact(url)}: database {text!r} is not a number") from None


def connect(url: str, *, connect_timeout: float, socket_timeout: float, client_name: str) -> Any:
    """The redis-py asyncio client for ``url`` (not connected yet: connections open on first use)."""
    common: dict[str, Any] = {"decode_responses": True, "socket_connect_timeout": connect_timeout,
                              "socket_timeout": socket_timeout, "client_name": client_name}
    # One quick retry: a connection left broken by a restart or a failover is replaced at once.
    retry = Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1)
    scheme = scheme_of(url)
    if scheme in SENTINEL_SCHEMES:
        u = parse_multi_host(url, 26379)
        if not u.path or len(u.path) > 2:
            raise ConfigError(f"--store {redact(url)}: give the monitored service as "
                              f"redis+sentinel://host:port[,host:port...]/service_name[/db]")
        # A sentinel that is down is skipped at once for the next one (no retries against it).
        sentinel_kwargs = {"socket_connect_timeout": connect_timeout, "socket_timeout": socket_timeout,
                           "retry": Retry(NoBackoff(), 0)}
        if u.query.get("sentinel_password"):
            sentinel_kwargs["password"] = u.query["sentinel_password"]
        sentinel = Sentinel(list(u.hosts), sentinel_kwargs=sentinel_kwargs)
        # After a failover redis-py's own retry reconnects to the address it had (the old master); the
        # store repeats the whole step instead, through the sentinels (store/redis.py ``guarded``).
        return sentinel.master_for(u.path[0], db=_db(u.path[1], url) if len(u.path) > 1 else 0,
                                   username=u.username, password=u.password, retry=Retry(NoBackoff(), 0),
                                   health_check_interval=30, **common)
    if scheme in CLUSTER_SCHEMES:
        u = parse_multi_host(url, 6379)
        if u.path not in ((), ("0",)):
            raise ConfigError(f"--store {redact(url)}: a Redis Cluster has one database (0); "
                              f"give redis+cluster://host:port[,host:port...]")
        return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in u.hosts], username=u.username,
                            password=u.password, ssl=scheme.startswith("rediss"), retry=retry,
                            health_check_interval=30, **common)
    if scheme in SINGLE_SCHEMES:
        try:
            return aioredis.from_url(_strip_store_options(url), retry=retry, health_check_interval=30, **common)
        except ValueError as exc:  # a malformed URL: a configuration error, said in one line
            raise ConfigError(f"--store {redact(url)}: {exc}") from None
    raise ConfigError(f"--store {redact(url)}: unknown scheme; use one of {', '.join(s + '://' for s in SCHEMES)}")
