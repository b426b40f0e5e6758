"""The admin secret, browser sessions, CSRF tokens and the brute-force brake.

- The token is compared in constant time (:func:`hmac.compare_digest`).
- A browser that logged in holds an HttpOnly, SameSite=Strict cookie: a random session id signed
  with a key derived from the token; its CSRF token is another MAC of the same id, so nothing is stored.
- ``/api/`` takes ``Authorization: Bearer`` only; a cookie never drives it.
- Each failed attempt from an address makes the next answer to that address slower.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
import time

COOKIE = "jobctl_session"
SESSION_TTL_S = 12 * 3600


def same(given: str | None, token: str) -> bool:
    """Constant-time comparison of a presented secret with the token."""
    return hmac.compare_digest((given or "").encode(), token.encode())


class Sessions:
    """Signed, stateless session ids and their CSRF tokens."""

    def __init__(self, token: str):
        # A fresh salt per server: restarting the server logs every browser out.
        self._key = hashlib.sha256(b"jobctl-session\0" + secrets.token_bytes(16) + token.encode()).digest()

    def _mac(self, purpose: str, sid: str) -> str:
        return hmac.new(self._key, f"{purpose}:{sid}".encode(), hashlib.sha256).hexdigest()

    def new(self, now: float | None = None) -> str:
        sid = f"{secrets.token_hex(16)}-{int(now or time.time())}"
        return f"{sid}.{self._mac('session', sid)}"

    def session_id(self, cookie: str | None, now: float | None = None) -> str | None:
        """The session id of a valid, unexpired cookie, else None."""
        if not cookie or "." not in cookie:
            return None
        sid, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac("session", sid)):
            return None
        try:
            issued = int(sid.rsplit("-", 1)[1])
        except (IndexError, ValueError):
            return None
        return sid if (now or time.time()) - issued < SESSION_TTL_S else None

    def csrf(self, sid: str) -> str:
        return self._mac("csrf", sid)

    def csrf_ok(self, sid: str | None, given: str | None) -> bool:
        return bool(sid) and hmac.compare_digest((given or "").encode(), self.csrf(sid).encode())


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


class Brake:
    """Slows down guessing: after ``free`` failures from one address, each answer to it waits
    ``base`` × 2^(extra failures) seconds (at most ``cap``); a success clears the count."""

    def __init__(self, free: int = 3, base: float = 0.25, cap: float = 8.0, forget_s: float = 900):
        self.free, self.base, self.cap, self.forget_s = free, base, cap, forget_s
        self._fails: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def delay(self, addr: str) -> float:
        with self._lock:
            n, at = self._fails.get(addr, (0, 0.0))
            if time.monotonic() - at > self.forget_s:
                n = 0
        return 0.0 if n < self.free else min(self.cap, self.base * 2 ** (n - self.free))

    def failed(self, addr: str) -> None:
        with self._lock:
            n, at = self._fails.get(addr, (0, 0.0))
            if time.monotonic() - at > self.forget_s:
                n = 0
            self._fails[addr] = (n + 1, time.monotonic())
            if len(self._fails) > 10_000:  # an address-spraying attacker must not grow this forever
                self._fails.pop(next(iter(self._fails)))

    def succeeded(self, addr: str) -> None:
        with self._lock:
            self._fails.pop(addr, None)

    async def wait(self, addr: str) -> None:
        d = self.delay(addr)
        if d:
            await asyncio.sleep(d)
