"""Redis connections from a store URL: one server, a Sentinel-managed master, or a Redis Cluster.

    redis://[[user]:password@]host:port/db        one server (rediss:// for TLS)
    unix://[[user]:password@]/path/to/redis.sock?db=N
    redis+sentinel://[[user]:password@]host:port[,host:port...]/service_name[/db][?sentinel_password=...]
    redis+cluster://[[user]:password@]host:port[,host:port...]    (rediss+cluster:// for TLS)

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
from redis.backoff import ExponentialBackoff

from ..settings import ConfigError

SENTINEL_SCHEMES = ("redis+sentinel",)
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SINGLE_SCHEMES = ("redis", "rediss", "unix")
SCHEMES = SINGLE_SCHEMES + SENTINEL_SCHEMES + CLUSTER_SCHEMES


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
    return RedisURL(scheme.lower(), hosts, username, password,
                    tuple(unquote(p) for p in path.split("/") if p), params)


def _db(text: str, url: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"--store {redact(url)}: database {text!r} is not a number") from None


def connect(url: str, *, connect_timeout: float, socket_timeout: float, client_name: str) -> Any:
    """The redis-py asyncio client for ``url`` (not connected yet: connections open on first use)."""
    common: dict[str, Any] = dict(decode_responses=True, socket_connect_timeout=connect_timeout,
                                  socket_timeout=socket_timeout, client_name=client_name)
    # One quick retry: a connection left broken by a restart or a failover is replaced at once.
    retry = Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1)
    scheme = scheme_of(url)
    if scheme in SENTINEL_SCHEMES:
        u = parse_multi_host(url, 26379)
        if not u.path or len(u.path) > 2:
            raise ConfigError(f"--store {redact(url)}: give the monitored service as "
                              f"redis+sentinel://host:port[,host:port...]/service_name[/db]")
        sentinel_kwargs = {"socket_connect_timeout": connect_timeout, "socket_timeout": socket_timeout}
        if u.query.get("sentinel_password"):
            sentinel_kwargs["password"] = u.query["sentinel_password"]
        sentinel = Sentinel(list(u.hosts), sentinel_kwargs=sentinel_kwargs)
        return sentinel.master_for(u.path[0], db=_db(u.path[1], url) if len(u.path) > 1 else 0,
                                   username=u.username, password=u.password, retry=retry,
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
            return aioredis.from_url(url, retry=retry, health_check_interval=30, **common)
        except ValueError as exc:  # a malformed URL: a configuration error, said in one line
            raise ConfigError(f"--store {redact(url)}: {exc}") from None
    raise ConfigError(f"--store {redact(url)}: unknown scheme; use one of {', '.join(s + '://' for s in SCHEMES)}")
