"""The client's address behind reverse proxies: X-Forwarded-For is believed only when the
connection comes from a proxy listed in ``USHIRO_TRUSTED_PROXIES`` (none by default).

Anyone can send the header; believed from everyone (uvicorn's default trusts it from
loopback), it lets one address pose as many and dodge the per-address login lock. The
client is the rightmost hop that is not itself a trusted proxy: hops to its left are
whatever the client chose to send. ``ushiro serve`` turns uvicorn's own handling off, so
this is the only place that decides."""

from __future__ import annotations

import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

from ushiro.core.settings import IPNetwork


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


class TrustedProxies:
    def __init__(self, app: ASGIApp, networks: tuple[IPNetwork, ...]) -> None:
        self.app, self.networks = app, networks

    def _trusted(self, text: str) -> bool:
        address = _address(text)
        return address is not None and any(address in n for n in self.networks)

    def client_of(self, peer: str, forwarded: list[str]) -> str:
        hops = [hop.strip() for value in forwarded for hop in value.split(",")]
        client = peer
        for hop in reversed(hops):
            if not self._trusted(client) or _address(hop) is None:
                break
            client = hop
        return client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] == "http" and client and self._trusted(client[0]):
            forwarded = [v.decode("latin-1") for k, v in scope["headers"]
                         if k == b"x-forwarded-for"]
            proto = [v for k, v in scope["headers"] if k == b"x-forwarded-proto"]
            scope = {**scope, "client": (self.client_of(client[0], forwarded), client[1])}
            if proto and proto[-1].strip() in (b"http", b"https"):
                scope["scheme"] = proto[-1].strip().decode()
        await self.app(scope, receive, send)
