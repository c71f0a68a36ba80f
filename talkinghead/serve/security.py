"""The server's safety rules: who may bind where, the token, request size, and where requests may
come from.

- :func:`check_bind`: a host other than a loopback address needs a token.
- :func:`token_matches`: ``Authorization: Bearer TOKEN``, compared in constant time.
- :class:`Guard`: an ASGI middleware that refuses, before the body is read, a request larger than
  the limit (413) or of unknown length (411); on a loopback server, a request whose ``Host`` is
  not a loopback name (403: a web page turned against the server by DNS rebinding); and a
  request that changes something sent by a page of another origin (403: cross-site forgery).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from urllib.parse import urlsplit

from ..errors import InputError

#: Host names that always mean this machine.
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")
#: Methods that change nothing (no origin check).
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def is_loopback(host: str) -> bool:
    """``host`` (a name or an address, IPv6 with or without brackets) is this machine only."""
    h = host.strip().strip("[]").lower()
    if h in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token.

    Raises:
        InputError: ``host`` is not a loopback address and there is no token; or the token is
            too short to be one.
    """
    if token is not None and len(token) < 16:
        raise InputError("the token must be at least 16 characters long (for example: "
                         "python -c 'import secrets; print(secrets.token_urlsafe(24))')")
    if not is_loopback(host) and not token:
        raise InputError(f"--host {host} makes the server reachable from other machines: give a token "
                         "(--token, or $TALKINGHEAD_TOKEN) that clients must send as 'Authorization: Bearer "
                         "TOKEN', or serve on 127.0.0.1 (the default)")


def token_matches(header: str | None, token: str) -> bool:
    """``header`` is ``Bearer <token>`` (constant-time comparison)."""
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def _host_name(host_header: str) -> str:
    """The name part of a ``Host`` header (``[::1]:8000`` -> ``::1``)."""
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


class Guard:
    """ASGI middleware enforcing the request-level rules (see the module's docstring).

    Args:
        app: the ASGI app.
        max_body: largest request body, bytes.
        loopback_only: the server listens on a loopback address (the ``Host`` must be one too).
    """

    def __init__(self, app, max_body: int, loopback_only: bool):
        self.app = app
        self.max_body = int(max_body)
        self.loopback_only = loopback_only

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        problem = self.check(scope["method"], headers)
        if problem is not None:
            status, message = problem
            body = json.dumps({"detail": message}).encode()
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})
            return
        return await self.app(scope, receive, send)

    def check(self, method: str, headers: dict[str, str]) -> tuple[int, str] | None:
        """``(status, message)`` if the request is refused, else ``None``."""
        host = headers.get("host", "")
        if self.loopback_only and not is_loopback(_host_name(host)):
            return 403, (f"this server only answers requests addressed to this machine (Host: {host[:80]!r}); "
                         "open it as http://127.0.0.1:PORT/")
        origin = headers.get("origin")
        if method not in SAFE_METHODS and origin and origin != "null" and urlsplit(origin).netloc != host:
            return 403, f"cross-site request refused (from {origin[:80]!r})"
        if method not in SAFE_METHODS:
            if "chunked" in headers.get("transfer-encoding", "").lower():
                return 411, "send the request with a Content-Length (chunked uploads are not accepted)"
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                return 400, "bad Content-Length"
            if length > self.max_body:
                return 413, (f"the request is {length / 1e6:.1f} MB: the server takes at most "
                             f"{self.max_body / 1e6:g} MB (--max-upload-mb)")
        return None
