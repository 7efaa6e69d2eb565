"""Logging in, staying logged in, and logging out.

``login`` proves the secret works, then keeps it (:mod:`.store`). Every later
command resumes the session the previous one left (``Session.dump()`` kept
in the same file) and so reuses its access or session token until it
expires; only then does the library renew it, with the kept refresh or
remember token. Every token the server issues is written to the file the
moment it arrives, before anything else can fail.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tastytrade_requests
from tastytrade_proto import (
    CERTIFICATION,
    PRODUCTION,
    Ask,
    InvalidCredentials,
    LocalProtocolError,
    OAuthError,
    RefreshTokenRotated,
    RememberTokenIssued,
    TastytradeError,
    TokenEvent,
)

from . import store
from .errors import CommandError, ExitCode, explain
from .output import Output
from .store import Credentials

__all__ = [
    "Context",
    "Lease",
    "environment_name",
    "login",
    "logout",
    "released",
    "session",
    "where_for",
]


@dataclass
class Context:
    """One run: its arguments, where the secret lives, its output, and how to ask the user."""

    args: argparse.Namespace
    path: Path
    output: Output
    env: Mapping[str, str]
    #: Asks for a secret without echo (``getpass``); raises CommandError without a terminal.
    ask_secret: Callable[[str], str]
    #: Asks a yes/no question; ``None`` when there is no terminal to ask on.
    ask_line: Callable[[str], str] | None
    #: The environment the command talks to, once known ("production", ...).
    environment: str = "production"
    #: The server's host, for "cannot reach ...".
    where: str = "the API"
    #: Whether orders sent there may trade real money (see :func:`_real_money`).
    real_money: bool = True
    #: Secrets met during the run (a quote token), kept out of ``--debug``'s detail.
    secrets: list[str] = field(default_factory=list)
    #: The credentials lock, while :func:`session` holds it.
    lease: Lease | None = None

    def option(self, name: str, default: Any = None) -> Any:
        return getattr(self.args, name, default)


_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _real_money(environment: str, base_url: str | None) -> bool:
    """Production, and any custom URL but this machine's or the sandbox's: a proxy in front
    of production is as real as production."""
    if environment == "certification":
        return False
    if environment == "custom" and base_url:
        host = urlsplit(base_url).hostname
        return host not in _LOOPBACK and host != urlsplit(CERTIFICATION.base_url).hostname
    return True


def _checked_url(url: str) -> str:
    """A base URL a secret may go to: HTTPS, or plain HTTP to this machine only."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CommandError(f"--base-url {url!r} is not an http(s):// URL", ExitCode.USAGE)
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise CommandError(
            "plain http:// is only for this machine (127.0.0.1); use https://", ExitCode.USAGE
        )
    return url


def _describe(settings: Mapping[str, Any]) -> tuple[str, str | None]:
    if "base_url" in settings:
        return "custom", str(settings["base_url"])
    if settings.get("certification"):
        return "certification", None
    return "production", None


def environment_name(environment: str, base_url: str | None) -> str:
    """How the environment is named to the user: ``production (api.tastyworks.com)``."""
    if environment == "custom" and base_url:
        if urlsplit(base_url).hostname == urlsplit(PRODUCTION.base_url).hostname:
            return f"production ({base_url})"
        return f"custom ({base_url})"
    if environment == "certification":
        return f"certification sandbox ({urlsplit(CERTIFICATION.base_url).hostname})"
    return f"production ({urlsplit(PRODUCTION.base_url).hostname})"


def where_for(ctx: Context, saved: Credentials | None) -> dict[str, Any]:
    """Session keywords: the saved login's environment, or the command line's at login.

    A saved secret only ever goes back where it came from: naming another
    environment on the command line is refused, not obeyed.
    """
    settings: dict[str, Any] = {}
    ca_bundle = ctx.option("ca_bundle") or (saved.ca_bundle if saved else None)
    if ca_bundle:
        settings["ca_bundle"] = ca_bundle
    if ctx.option("timeout") is not None:
        settings["timeout"] = ctx.option("timeout")
    named: dict[str, Any] = {}
    if ctx.option("base_url"):
        named["base_url"] = _checked_url(ctx.option("base_url"))
    elif ctx.option("cert"):
        named["certification"] = True
    if saved is None:
        settings.update(named)
        environment, base_url = _describe(named)
    else:
        environment, base_url = saved.environment, saved.base_url
        if named and _describe(named) != (environment, base_url):
            there = environment_name(*_describe(named))
            raise CommandError(
                f"you are logged in to {environment_name(environment, base_url)}, not {there}",
                ExitCode.LOGIN,
                "log in there first (`tastytrade login` with the same option)",
            )
        if environment == "custom" and base_url:
            settings["base_url"] = base_url
        elif environment == "certification":
            settings["certification"] = True
    ctx.environment = environment_name(environment, base_url)
    ctx.real_money = _real_money(environment, base_url)
    host = urlsplit(base_url).netloc if base_url else None
    ctx.where = host or ctx.environment.split(" ")[-1].strip("()")
    return settings


def _locked(ctx: Context) -> contextlib.AbstractContextManager[None]:
    """The credentials lock, saying so when another run holds it (an open confirmation
    holds it until answered)."""

    def waiting() -> None:
        ctx.output.note("waiting for another tastytrade command to finish with the login...")

    return store.locked(ctx.path, on_wait=waiting)


class Lease:
    """The credentials lock a command holds while it runs (see :func:`session`).

    A command that runs until stopped (``watch``) lets it go while it streams
    (:func:`released`), so that other commands can run meanwhile, and takes it
    again for each call its stream makes over the session (:meth:`during`: a
    quote token, with any token renewal) and, if no other run holds it then, to
    save the session at the end.
    """

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._held: contextlib.AbstractContextManager[None] | None = None
        self._mutex = threading.Lock()
        #: Whether it was let go at some point: another run may have changed the file.
        self.let_go = False

    @property
    def held(self) -> bool:
        return self._held is not None

    def take(self, *, wait: bool = True, say: bool = True) -> bool:
        """Take the lock; ``False`` when another run holds it and ``wait`` is false."""
        on_wait = self._waiting if say else None
        path = self._ctx.path
        if wait:
            lock = store.locked(path, on_wait=on_wait)
        else:
            lock = store.locked(path, on_wait=on_wait, wait=False)
        try:
            lock.__enter__()
        except store.Busy:
            return False
        self._held = lock
        return True

    def give_back(self) -> None:
        lock, self._held = self._held, None
        if lock is not None:
            lock.__exit__(None, None, None)

    def _waiting(self) -> None:
        self._ctx.output.note("waiting for another tastytrade command to finish with the login...")

    @contextlib.contextmanager
    def during(self) -> Iterator[None]:
        """Hold the lock for one call, from any thread (a stream's worker fetching a token)."""
        with self._mutex:
            if self._held is not None:
                yield
                return
            self.take(say=False)
            try:
                yield
            finally:
                self.give_back()

    @contextlib.contextmanager
    def released(self) -> Iterator[None]:
        """Let the lock go for the body; afterwards take it back if no other run holds it."""
        with self._mutex:
            self.give_back()
            self.let_go = True
        try:
            yield
        finally:
            with self._mutex:
                self.take(wait=False)  # never wait on the way out (a [y/N] may hold it)


@contextlib.contextmanager
def released(ctx: Context) -> Iterator[None]:
    """Inside :func:`session`: let other commands use the login while the body runs."""
    if ctx.lease is None:
        yield
        return
    with ctx.lease.released():
        yield


def _same_login(one: Credentials, other: Credentials) -> bool:
    keys = ("scheme", "environment", "base_url", "login", "client_secret")
    return all(getattr(one, k) == getattr(other, k) for k in keys)


def _on_file(ctx: Context) -> Credentials | None:
    try:
        return store.load(ctx.path)
    except store.CredentialsError:
        return None


@contextlib.contextmanager
def session(ctx: Context) -> Iterator[tastytrade_requests.Session]:
    """The saved login's session, resumed; what it changed is saved as it happens.

    The credentials stay locked until the command ends, so that two runs never
    spend the same single-use token; a streaming command lets them go while it
    streams (:func:`released`).
    """
    lease = Lease(ctx)
    lease.take()
    ctx.lease = lease
    try:
        saved = store.load(ctx.path)
        current = [saved]

        def keep(event: TokenEvent) -> None:
            # Written before anything else can fail: a lost single-use token locks the user
            # out. The kept session is dropped with it (it holds the old token), and saved
            # again, whole, when the command ends.
            if not isinstance(event, (RememberTokenIssued, RefreshTokenRotated)):
                return
            base = current[0]
            if lease.let_go:  # another run may have saved since: build on what it saved
                found = _on_file(ctx)
                if found is None or not _same_login(found, base):
                    return  # logged out, or another login since: not ours to write
                base = found
            if isinstance(event, RememberTokenIssued):
                current[0] = base.with_tokens(remember_token=event.token, session=None)
            else:
                current[0] = base.with_tokens(refresh_token=event.token, session=None)
            store.save(ctx.path, current[0])

        settings = where_for(ctx, saved)
        session = _resume(ctx, saved, keep, settings)
        try:
            with contextlib.closing(session):
                yield session
        finally:
            # After letting the lock go, the session is saved only if nobody else wrote
            # the file meanwhile (theirs is as good, and may hold a newer token).
            if lease.held and not (lease.let_go and _on_file(ctx) != current[0]):
                _keep_session(ctx, session, current[0])
    finally:
        lease.give_back()
        ctx.lease = None


def _resume(
    ctx: Context,
    saved: Credentials,
    keep: Callable[[TokenEvent], None],
    settings: dict[str, Any],
) -> tastytrade_requests.Session:
    if saved.session:
        try:
            return tastytrade_requests.Session.load(
                saved.session, client_secret=saved.client_secret, token_store=keep, **settings
            )
        except LocalProtocolError:
            pass  # an unreadable or older dump: log in afresh with the kept token
    session = tastytrade_requests.Session(token_store=keep, **settings)
    try:
        if saved.scheme == "oauth" and saved.client_secret and saved.refresh_token:
            session.login_with_oauth(saved.client_secret, saved.refresh_token)
        elif saved.scheme == "legacy" and saved.login and saved.remember_token:
            session.login_with_remember_token(saved.login, saved.remember_token)
        else:
            raise CommandError(
                f"{ctx.path} holds no usable login", ExitCode.LOGIN, "run `tastytrade login`"
            )
    except BaseException:
        session.close()
        raise
    return session


def _keep_session(ctx: Context, session: tastytrade_requests.Session, saved: Credentials) -> None:
    """Save the session for the next run, unless it is over (then the kept token is what
    the next run logs in with)."""
    try:
        dump = session.dump()
    except TastytradeError:
        dump = None  # logged out, or mid-login: nothing to resume
    fresh = saved.with_tokens(session=dump)
    with contextlib.suppress(store.CredentialsError):
        if store.load(ctx.path) == fresh:
            return
    store.save(ctx.path, fresh)


# -- login and logout ---------------------------------------------------------------------


def login(ctx: Context) -> None:
    with _locked(ctx):
        try:
            previous: Credentials | None = store.load(ctx.path)
        except store.CredentialsError:
            previous = None  # none, or unreadable: replaced either way
        settings = where_for(ctx, None)
        environment, base_url = _describe(settings)
        ca_bundle = settings.get("ca_bundle")
        if ctx.option("user"):
            kept = _login_legacy(ctx, settings, environment, base_url, ca_bundle)
        else:
            kept = _login_oauth(ctx, settings, environment, base_url, ca_bundle)
        if previous is not None:
            _forget_previous(ctx, previous)
    if ctx.output.json_mode:
        ctx.output.json(
            {"logged-in": True, "environment": ctx.environment, "credentials": str(kept)}
        )
        return
    ctx.output.line(
        f"logged in to {ctx.environment}; the secret is kept in {kept} (readable by you alone)"
    )


def _forget_previous(ctx: Context, previous: Credentials) -> None:
    """The login the new one replaced: said, and a legacy session ended (best effort)."""
    name = environment_name(previous.environment, previous.base_url)
    who = f" as {previous.login}" if previous.login else ""
    ctx.output.note(f"replaced the saved login to {name}{who}")
    if previous.scheme != "legacy":
        return
    settings: dict[str, Any] = {"ca_bundle": previous.ca_bundle} if previous.ca_bundle else {}
    if previous.environment == "custom" and previous.base_url:
        settings["base_url"] = previous.base_url
    elif previous.environment == "certification":
        settings["certification"] = True
    try:
        _end_legacy_session(previous, settings)
    except (TastytradeError, CommandError) as error:
        told = explain(error, where=name)
        ctx.output.note(f"tastytrade: that session was not ended ({told.message})")


def _login_legacy(
    ctx: Context,
    settings: dict[str, Any],
    environment: str,
    base_url: str | None,
    ca_bundle: str | None,
) -> Path:
    user = ctx.args.user
    password = ctx.ask_secret(f"password for {user}: ")

    def prompt(ask: Ask) -> str:
        if ask.attempt > 1:
            what = "answer" if ask.method == "security_question" else "code"
            ctx.output.note(f"that {what} was wrong; try again", "yellow")
        if ask.method == "security_question":
            return ctx.ask_secret(f"{ask.question} ")
        where = f" (sent to {ask.destination})" if ask.destination else ""
        return ctx.ask_secret(f"two-factor code{where}: ")

    base = Credentials(
        scheme="legacy",
        environment=environment,
        base_url=base_url,
        login=user,
        ca_bundle=ca_bundle,
    )
    kept: list[Credentials] = []

    def keep(event: TokenEvent) -> None:
        if isinstance(event, RememberTokenIssued):
            kept[:] = [base.with_tokens(remember_token=event.token)]
            store.save(ctx.path, kept[0])

    session = tastytrade_requests.Session(token_store=keep, prompt=prompt, **settings)
    with contextlib.closing(session):
        try:
            session.login_with_password(user, password, remember_me=True)
        except InvalidCredentials as error:
            raise CommandError(
                "login refused: check your login name and password", ExitCode.LOGIN
            ) from error
        if not kept:
            raise CommandError(
                "the server issued no remember token; nothing was saved", ExitCode.LOGIN
            )
        _keep_session(ctx, session, kept[0])
    return ctx.path


def _login_oauth(
    ctx: Context,
    settings: dict[str, Any],
    environment: str,
    base_url: str | None,
    ca_bundle: str | None,
) -> Path:
    secret = ctx.env.get("TASTYTRADE_CLIENT_SECRET") or ctx.ask_secret("client secret: ")
    refresh = ctx.env.get("TASTYTRADE_REFRESH_TOKEN") or ctx.ask_secret("refresh token: ")
    current = [
        Credentials(
            scheme="oauth",
            environment=environment,
            base_url=base_url,
            client_secret=secret,
            refresh_token=refresh,
            ca_bundle=ca_bundle,
        )
    ]

    def keep(event: TokenEvent) -> None:
        if isinstance(event, RefreshTokenRotated):
            current[0] = current[0].with_tokens(refresh_token=event.token)
            store.save(ctx.path, current[0])

    session = tastytrade_requests.Session(token_store=keep, **settings)
    with contextlib.closing(session):
        try:
            session.login_with_oauth(secret, refresh)  # proves the pair works before keeping it
        except OAuthError as error:
            raise CommandError(
                "login refused: check the client secret and refresh token", ExitCode.LOGIN
            ) from error
        _keep_session(ctx, session, current[0])
    return ctx.path


def logout(ctx: Context) -> None:
    with _locked(ctx):
        try:
            saved = store.load(ctx.path, insecure=True)
        except store.CredentialsError:
            if not ctx.path.exists():
                _said(ctx, "not logged in; nothing to forget")
                return
            store.remove(ctx.path)  # damaged, or another user's: it goes either way
            _said(ctx, f"removed {ctx.path}, which could not be read as a login")
            return
        exposed = _readable_by_others(ctx.path)
        try:
            if saved.scheme == "legacy":
                _end_legacy_session(saved, where_for(ctx, saved))
        except (TastytradeError, CommandError) as error:
            told = explain(error, where=ctx.where)
            ctx.output.note(f"tastytrade: the server did not end the session ({told.message})")
        finally:
            store.remove(ctx.path)
        if exposed:
            what = (
                "its session was ended and its remember token spent"
                if saved.scheme == "legacy"
                else "revoke the refresh token where you created it (tastytrade.com, API access)"
            )
            ctx.output.note(f"the file was readable by others, so its secret may be known: {what}")
    _said(ctx, "logged out; the saved secret is gone")


def _readable_by_others(path: Path) -> bool:
    import os
    import stat

    return os.name != "nt" and bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def _said(ctx: Context, text: str) -> None:
    if ctx.output.json_mode:
        ctx.output.json({"logged-in": False, "said": text})
    else:
        ctx.output.line(text)


def _end_legacy_session(saved: Credentials, settings: dict[str, Any]) -> None:
    """End the kept session, then spend the remember token without asking for another, so
    that nothing the server issued to this login is left usable."""
    remember = [saved.remember_token]

    def keep(event: TokenEvent) -> None:  # a renewal on the way out issues a new one
        if isinstance(event, RememberTokenIssued):
            remember.append(event.token)

    if saved.session:
        with contextlib.suppress(LocalProtocolError):
            resumed = tastytrade_requests.Session.load(saved.session, token_store=keep, **settings)
            with contextlib.closing(resumed):
                resumed.logout()
    if saved.login and remember[-1]:
        session = tastytrade_requests.Session(**settings)
        with contextlib.closing(session):
            try:
                session.login_with_remember_token(saved.login, remember[-1], remember_me=False)
            except InvalidCredentials:
                return  # ending the session spent it already
            session.logout()


def ask_secret_on_terminal(prompt: str) -> str:
    """``getpass``, refusing to read a secret from anything but a terminal."""
    import getpass

    if not sys.stdin.isatty():
        what = prompt.rstrip(": ")
        raise CommandError(
            f"no terminal to ask for the {what} on",
            ExitCode.LOGIN,
            "run it in a terminal, or set TASTYTRADE_CLIENT_SECRET and TASTYTRADE_REFRESH_TOKEN",
        )
    try:
        return getpass.getpass(prompt)
    except EOFError:
        raise CommandError(
            "no answer given (end of input); nothing was done", ExitCode.LOGIN
        ) from None
