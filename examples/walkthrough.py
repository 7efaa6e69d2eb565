"""Drive the tastytrade-proto core by hand, with no network and no credentials.

The "server" here is a queue of answers shaped like the real API's (see
tests/samples), so every step is visible: the request the core builds,
the answer it is given, and the state the session machine moves to. Swap
``server.send`` for any HTTP library and the same code talks to tastytrade.

Run: python examples/walkthrough.py
"""

from __future__ import annotations

from typing import Any, TypeVar

from tastytrade_proto import CERTIFICATION, SecondFactorRequired, TokenEvent
from tastytrade_proto.protocol import AuthMachine, Operation, Request, Response, drive, flows
from tastytrade_proto.testing import FakeClock, ReplayTransport, json_response

LOGIN_REPLY: dict[str, Any] = {
    "data": {
        "user": {"email": "demo@example.com", "username": "demo", "external-id": "U0000000001"},
        "session-token": "SESSION-TOKEN-1",
        "remember-token": "REMEMBER-TOKEN-1",
        "session-expiration": "2026-11-25T20:00:00.000Z",
    },
    "context": "/sessions",
}
RELOGIN_REPLY = {
    "data": {
        **LOGIN_REPLY["data"],
        "session-token": "SESSION-TOKEN-2",
        "remember-token": "REMEMBER-TOKEN-2",
        "session-expiration": "2026-11-26T20:00:00.000Z",
    },
    "context": "/sessions",
}
CHALLENGE = {
    "error": {
        "code": "device_challenge_required",
        "message": "Device authentication challenge required",
    }
}

T = TypeVar("T")


class Walkthrough:
    """Runs flows against queued answers and keeps one table row per flow."""

    def __init__(self, server: ReplayTransport, clock: FakeClock) -> None:
        self.server, self.clock = server, clock
        self.statuses: list[int] = []
        self.rows: list[tuple[str, str, str, str]] = []

    def send(self, request: Request) -> Response:
        response = self.server.send(request)
        self.statuses.append(response.status)
        return response

    def run(self, label: str, machine: AuthMachine, op: Operation[T]) -> None:
        first = len(self.server.requests)
        self.statuses.clear()
        try:
            result = drive(op, self.send, clock=self.clock, sleep=self.clock.sleep)
            outcome = "ok" if result is None or isinstance(result, tuple) else repr(result)
        except SecondFactorRequired as exc:
            outcome = f"{type(exc).__name__}: code sent to {exc.destination}"
        sent = self.server.requests[first:]
        wire = ", ".join(
            f"{r.method} {r.path} {s}" for r, s in zip(sent, self.statuses, strict=True)
        )
        self.rows.append((label, wire, outcome, machine.state.name))

    def print_table(self) -> None:
        header = ("step", "requests sent, with status", "outcome", "state after")
        widths = [max(len(row[i]) for row in (header, *self.rows)) for i in range(4)]
        for row in (header, tuple("-" * w for w in widths), *self.rows):
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def main() -> None:
    clock = FakeClock(now=1_795_000_000.0)  # 2026-11-18, before the expirations above
    saved: list[TokenEvent] = []  # a real program writes these to disk
    server = ReplayTransport(
        [
            json_response(403, CHALLENGE, [("X-Tastyworks-Challenge-Token", "CHALLENGE-1")]),
            json_response(200, {"data": {"phone": "********0000", "step": "otp_verification"}}),
            json_response(201, LOGIN_REPLY),
            json_response(201, {"data": {"username": "demo"}, "context": "/sessions/validate"}),
            json_response(201, RELOGIN_REPLY),
            Response(204),
            json_response(200, {"access_token": "ACCESS-1", "expires_in": 900}),
            json_response(200, {"access_token": "ACCESS-2", "expires_in": 900}),
            json_response(200, {"data": {"id": "me"}, "context": "/customers/me"}),
        ]
    )
    walk = Walkthrough(server, clock)

    legacy = AuthMachine(environment=CERTIFICATION, on_token=saved.append)
    walk.run("password login", legacy, flows.login_with_password(legacy, "demo", "pass-word"))
    walk.run("one-time code", legacy, flows.submit_second_factor(legacy, "123456"))
    walk.run("validate", legacy, flows.validate(legacy))

    # A new process that kept only the remember token logs in with it.
    remember = legacy.remember_token or ""
    again = AuthMachine(environment=CERTIFICATION, on_token=saved.append)
    walk.run(
        "remember-token login", again, flows.login_with_remember_token(again, "demo", remember)
    )
    rotated = again.remember_token not in (None, remember)
    walk.run("logout", again, flows.logout(again))

    # OAuth, the only scheme the live API accepts today.
    oauth = AuthMachine(environment=CERTIFICATION, on_token=saved.append)
    walk.run("OAuth login", oauth, flows.login_with_oauth(oauth, "client-secret", "refresh"))
    clock.advance(870)  # inside the 60 s margin: the next call refreshes first
    customer = oauth.config.request("GET", "/customers/me")
    walk.run("GET, 14.5 min later", oauth, flows.call(oauth, customer, lambda r: r.status))

    walk.print_table()
    kinds = ", ".join(sorted({type(e).__name__ for e in saved}))
    print(f"\nremember token rotated on re-login: {rotated}")
    print(f"token store received {len(saved)} tokens ({kinds}); none printed: they are secrets")


if __name__ == "__main__":
    main()
