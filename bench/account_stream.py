#!/usr/bin/env python3
"""The account streamer: decoding a recorded burst, and memory over a day-long session.

``decode``: a burst of account streamer notifications, built once as the text the
server sends. Orders (1 to 4 legs: shares, single options, verticals, butterflies,
iron condors) walk Received, Routed, Live, partial fills and Filled (some are
cancelled, some after a partial fill), two dozen of them in flight at once, their
frames interleaved; after each fill come a ``CurrentPosition`` per leg and an
``AccountBalance`` (the REST shapes), and about a third of those groups arrive as one
``{"results": [...]}`` batch. It is taken through, in interleaved rounds, each parser
handing what it builds to a consumer that keeps none of it:

(a) ``json.loads`` of each frame alone: the floor every Python client pays;
(b) ``json.loads`` and our models' decoding of each notification's ``data``
    (``Order``, ``Position``, ``Balances``), with no machine: what the decoding alone costs;
(c) tastytrade-proto: ``AccountStreamConnection.receive(text, now)`` then ``events()``,
    on a connection brought to LIVE (its resync done) by hand, a fresh one each round;
(d) the reference SDK (``tastytrade`` on PyPI), when it is importable: ``json.loads`` of
    each frame then ``MAP_ALERTS[type](**data)``, which is what its ``AlertStreamer``
    does with each notification (its queueing afterwards is left out). Its reader drops
    ``results`` batches unread; here their items are decoded the same way, so that it
    builds as many models as ours.

``memory``: a connection driven with no socket on a simulated clock for a day: a
heartbeat every 20 s (acknowledged), a credential that expires 15 minutes after it is
handed over, orders placed and filled all along (positions, balances), the server
closing the socket every hour (a reconnect, then a resync with the live orders of the
moment), and terminal orders leaving the live-orders list two hours after they end;
then the same day on one socket that never drops. ``tracemalloc`` figures, and what the
machine remembers, at checkpoints.

Not part of the test suite. Run through ``bench/run`` (section 6 of ``suite.py``), or
alone: ``python bench/account_stream.py decode`` (in the ``reference`` environment to
time the SDK too), ``python bench/account_stream.py decode --profile`` (where ours spends,
by ``cProfile``) and ``python bench/account_stream.py memory``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import heapq
import importlib
import json
import pstats
import random
import statistics
import sys
import time
import tracemalloc
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, Union

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import cpu_rounds, table

from tastytrade_proto.accounts import Balances, Position
from tastytrade_proto.errors import WebSocketClosed
from tastytrade_proto.models import decode_model
from tastytrade_proto.orders.models import Order
from tastytrade_proto.streaming import (
    AccountState,
    AccountStreamConnection,
    AccountStreamState,
    BalancesUpdated,
    CloseSocket,
    Connected,
    Exchange,
    FetchCredential,
    FetchState,
    Finish,
    OpenSocket,
    OrderUpdated,
    Pause,
    PositionUpdated,
    Resync,
)

ACCOUNTS = ("5WT00001", "5WT00002")
URL = "wss://streamer.bench/accounts"
START_MS = 1_767_366_000_000  # 2026-01-02 15:00 UTC
KiB = 1024

STOCKS = {
    "AAPL": 231.4,
    "SPY": 601.2,
    "QQQ": 521.7,
    "IWM": 221.3,
    "NVDA": 141.8,
    "TSLA": 252.6,
    "AMD": 151.2,
    "MSFT": 431.9,
}
OPTION_ROOTS = ("SPY", "QQQ", "IWM", "AAPL")
EXPIRIES = ("2026-01-16", "2026-02-20")
VENUES = ("SUSQUEHANNA_EQUITIES_B", "CITADEL_EQUITIES_A", "CBOE_OPTIONS", "PHLX", "ISE")
BALANCE_FIELDS = (
    "cash-balance",
    "long-equity-value",
    "short-equity-value",
    "long-derivative-value",
    "short-derivative-value",
    "long-futures-value",
    "short-futures-value",
    "long-futures-derivative-value",
    "short-futures-derivative-value",
    "long-margineable-value",
    "short-margineable-value",
    "margin-equity",
    "equity-buying-power",
    "derivative-buying-power",
    "day-trading-buying-power",
    "futures-margin-requirement",
    "available-trading-funds",
    "maintenance-requirement",
    "maintenance-call-value",
    "reg-t-call-value",
    "day-trading-call-value",
    "day-equity-call-value",
    "net-liquidating-value",
    "cash-available-to-withdraw",
    "day-trade-excess",
    "pending-cash",
    "long-cryptocurrency-value",
    "short-cryptocurrency-value",
    "cryptocurrency-margin-requirement",
    "unsettled-cryptocurrency-fiat-amount",
    "closed-loop-available-balance",
    "equity-offering-margin-requirement",
    "long-bond-value",
    "bond-margin-requirement",
    "used-derivative-buying-power",
    "reg-t-margin-requirement",
    "futures-overnight-margin-requirement",
    "futures-intraday-margin-requirement",
    "maintenance-excess",
    "pending-margin-interest",
    "effective-cryptocurrency-buying-power",
)
#: Fields moved by a fill (the rest stay at their opening value, mostly zero).
MOVING = (
    "cash-balance",
    "long-equity-value",
    "long-derivative-value",
    "short-derivative-value",
    "margin-equity",
    "equity-buying-power",
    "derivative-buying-power",
    "maintenance-requirement",
    "net-liquidating-value",
    "cash-available-to-withdraw",
    "day-trade-excess",
    "used-derivative-buying-power",
    "reg-t-margin-requirement",
    "maintenance-excess",
)


def iso(ms: int) -> str:
    """An ISO timestamp as the API writes it: ``2026-01-02T15:00:00.100+00:00``."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


def money(value: float) -> str:
    return f"{value:.2f}"


def occ(root: str, expiry: str, right: str, strike: int) -> str:
    """An OCC option symbol: ``SPY   260116C00600000``."""
    return f"{root:<6}{expiry[2:4]}{expiry[5:7]}{expiry[8:10]}{right}{strike * 1000:08d}"


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# -- the server's side: accounts whose orders walk their lives --------------------------------


class Book:
    """The accounts as the server holds them, and what it notifies about them.

    Orders are generators (:meth:`life`): each ``next()`` makes one step of an order's
    life at ``now_ms`` (its notifications are queued; :meth:`flush` hands them over) and
    yields the seconds until its next step.
    """

    def __init__(self, seed: int, accounts: Sequence[str] = ACCOUNTS) -> None:
        self.rng = random.Random(seed)
        self.accounts = tuple(accounts)
        self.now_ms = START_MS
        self.next_id = 600_000_000
        self.fills = 0
        self.orders: dict[int, dict[str, Any]] = {}  # the live-orders list: id -> data
        self.ended: dict[int, int] = {}  # terminal orders still on the list: id -> ms
        self.positions: dict[tuple[str, str], dict[str, Any]] = {}
        self.signed: dict[tuple[str, str], int] = {}
        self.balances = {account: self._opening_balance(account) for account in self.accounts}
        self.queued: list[tuple[str, str, int]] = []  # (type, data as JSON, timestamp)
        self.placed = 0
        self.options = [
            (occ(root, expiry, right, strike), root, expiry, strike)
            for root in OPTION_ROOTS
            for expiry in EXPIRIES
            for right in "CP"
            for strike in _strikes(STOCKS[root])
        ]

    # -- notifications

    def notify(self, kind: str, data: dict[str, Any]) -> None:
        self.queued.append((kind, dumps(data), self.now_ms + self.rng.randrange(2, 12)))

    def flush(self) -> list[tuple[str, str, int]]:
        out, self.queued = self.queued, []
        return out

    # -- orders

    def life(self) -> Iterator[float]:
        rng = self.rng
        order = self._new_order()
        yield rng.uniform(0.02, 0.3)
        self._status(order, "Routed")
        yield rng.uniform(0.02, 0.3)
        order["ext-client-order-id"] = f"JAAAC{order['id']:013d}"
        order["in-flight-at"] = iso(self.now_ms - 5)
        order["live-at"] = iso(self.now_ms)
        order["cancellable"] = order["editable"] = True
        self._status(order, "Live")
        gtc = order["time-in-force"] == "GTC"
        wait = (600.0, 14_400.0) if gtc else (1.0, 180.0)
        size = order["size"]
        fate = rng.random()
        if fate < 0.18:  # cancelled, a third of them after a partial fill
            if size > 1 and rng.random() < 0.35:
                yield rng.uniform(*wait)
                self._fill(order, rng.randrange(1, size), last=False)
            yield rng.uniform(*wait)
            order["cancellable"] = order["editable"] = False
            self._status(order, "Cancel Requested")
            yield rng.uniform(0.05, 0.5)
            order["cancelled-at"] = iso(self.now_ms - 3)
            order["cancelled-size"] = f"{self._remaining(order):.1f}"
            order["terminal-at"] = iso(self.now_ms)
            self._status(order, "Cancelled")
            self._ended(order)
            return
        chunks = min(size, rng.choice((1, 1, 2, 2, 3)))
        left = size
        for chunk in range(chunks, 0, -1):
            yield rng.uniform(*wait)
            quantity = left if chunk == 1 else rng.randrange(1, left - chunk + 2)
            left -= quantity
            self._fill(order, quantity, last=chunk == 1)
        self._ended(order)

    def _new_order(self) -> dict[str, Any]:
        rng = self.rng
        self.next_id += rng.randrange(1, 40)
        self.placed += 1
        account = rng.choice(self.accounts)
        shape = rng.random()
        if shape < 0.3:  # shares
            symbol = rng.choice(list(STOCKS))
            legs = [self._leg(account, "Equity", symbol, rng.choice((1, -1)), 1)]
            size = rng.choice((1, 5, 10, 25, 50, 100, 200, 500))
            underlying, price = symbol, STOCKS[symbol]
        else:
            root = rng.choice(OPTION_ROOTS)
            expiry = rng.choice(EXPIRIES)
            strikes = _strikes(STOCKS[root])
            at = rng.randrange(2, len(strikes) - 3)
            right = rng.choice("CP")
            if shape < 0.55:  # a single option
                picks = [(right, strikes[at], rng.choice((1, -1)), 1)]
            elif shape < 0.8:  # a vertical
                picks = [(right, strikes[at], 1, 1), (right, strikes[at + 1], -1, 1)]
            elif shape < 0.88:  # a butterfly
                picks = [
                    (right, strikes[at - 1], 1, 1),
                    (right, strikes[at], -1, 2),
                    (right, strikes[at + 1], 1, 1),
                ]
            else:  # an iron condor
                picks = [
                    ("P", strikes[at - 2], 1, 1),
                    ("P", strikes[at - 1], -1, 1),
                    ("C", strikes[at + 1], -1, 1),
                    ("C", strikes[at + 2], 1, 1),
                ]
            legs = [
                self._leg(account, "Equity Option", occ(root, expiry, r, k), sign, ratio)
                for r, k, sign, ratio in picks
            ]
            size = rng.choice((1, 1, 2, 3, 5, 10))
            underlying, price = root, rng.uniform(0.3, 12.0)
        for leg in legs:
            leg["quantity"] *= size
            leg["remaining-quantity"] = leg["quantity"]
        order: dict[str, Any] = {
            "id": self.next_id,
            "account-number": account,
            "cancellable": False,
            "editable": False,
            "edited": False,
            "global-request-id": f"{rng.getrandbits(128):032x}",
            "leg-count": len(legs),
            "order-type": "Limit",
            "price": money(price),
            "price-effect": rng.choice(("Debit", "Credit")),
            "received-at": iso(self.now_ms),
            "size": size,
            "source": "WBT;1.84.0",
            "status": "Received",
            "time-in-force": "GTC" if rng.random() < 0.1 else "Day",
            "underlying-instrument-type": "Equity",
            "underlying-symbol": underlying,
            "updated-at": self.now_ms,
            "legs": legs,
        }
        self.orders[order["id"]] = order
        self.notify("Order", order)
        return order

    def _leg(self, account: str, kind: str, symbol: str, sign: int, ratio: int) -> dict[str, Any]:
        held = self.signed.get((account, symbol), 0)
        closing = held != 0 and (held > 0) != (sign > 0)
        verb = "Buy" if sign > 0 else "Sell"
        return {
            "action": f"{verb} to {'Close' if closing else 'Open'}",
            "instrument-type": kind,
            "quantity": ratio,
            "remaining-quantity": ratio,
            "symbol": symbol,
            "fills": [],
        }

    def _status(self, order: dict[str, Any], status: str) -> None:
        order["status"] = status
        order["updated-at"] = self.now_ms
        self.notify("Order", order)

    def _remaining(self, order: dict[str, Any]) -> int:
        return int(order["legs"][0]["remaining-quantity"] // _ratio(order, order["legs"][0]))

    def _fill(self, order: dict[str, Any], quantity: int, *, last: bool) -> None:
        """``quantity`` of the order's size fills: a fill on each leg, then the order's
        new state, each leg's position and the account's balances."""
        rng, account = self.rng, order["account-number"]
        group = f"{rng.getrandbits(40)}"
        changes = []
        for leg in order["legs"]:
            self.fills += 1
            amount = quantity * _ratio(order, leg)
            leg["remaining-quantity"] -= amount
            price = _leg_price(leg["symbol"], rng)
            leg["fills"].append(
                {
                    "destination-venue": rng.choice(VENUES),
                    "ext-exec-id": f"{rng.getrandbits(48):012X}",
                    "ext-group-fill-id": group,
                    "fill-id": f"26010{self.fills:014d}",
                    "fill-price": price,
                    "filled-at": iso(self.now_ms - 4),
                    "quantity": amount,
                }
            )
            sign = 1 if leg["action"].startswith("Buy") else -1
            changes.append((leg, sign * amount, Decimal(price)))
        if last:
            order["terminal-at"] = iso(self.now_ms)
            order["cancellable"] = order["editable"] = False
            order["status"] = "Filled"
        order["updated-at"] = self.now_ms
        self.notify("Order", order)
        for leg, delta, price in changes:
            self._position(account, leg, delta, price)
        self._balance(account, changes)

    def _ended(self, order: dict[str, Any]) -> None:
        self.ended[order["id"]] = self.now_ms

    def drop_ended(self, before_ms: int) -> None:
        """Terminal orders that ended before ``before_ms`` leave the live-orders list."""
        for order_id, ended in list(self.ended.items()):
            if ended < before_ms:
                del self.ended[order_id]
                del self.orders[order_id]

    # -- positions and balances

    def _position(self, account: str, leg: dict[str, Any], delta: int, price: Decimal) -> None:
        key = (account, leg["symbol"])
        held = self.signed.get(key, 0) + delta
        self.signed[key] = held
        option = leg["instrument-type"] == "Equity Option"
        data = self.positions.get(key)
        if data is None:
            data = {
                "account-number": account,
                "average-daily-market-close-price": str(price),
                "average-open-price": str(price),
                "average-yearly-market-close-price": str(price),
                "close-price": str(price),
                "cost-effect": "Debit" if delta > 0 else "Credit",
                "created-at": iso(self.now_ms),
                "instrument-type": leg["instrument-type"],
                "is-frozen": False,
                "is-suppressed": False,
                "multiplier": 100 if option else 1,
                "quantity": 0,
                "quantity-direction": "Zero",
                "realized-day-gain": "0.0",
                "realized-day-gain-date": "2026-01-02",
                "realized-day-gain-effect": "None",
                "realized-today": "0.0",
                "realized-today-date": "2026-01-02",
                "realized-today-effect": "None",
                "restricted-quantity": 0,
                "symbol": leg["symbol"],
                "underlying-symbol": leg["symbol"].split()[0],
                "updated-at": iso(self.now_ms),
            }
            if option:
                data["expires-at"] = f"{_expiry(leg['symbol'])}T21:15:00.000+00:00"
        data["quantity"] = abs(held)
        data["quantity-direction"] = "Long" if held > 0 else "Short" if held < 0 else "Zero"
        data["close-price"] = str(price)
        gain = Decimal(self.rng.randrange(-5000, 5000)) / 100
        data["realized-day-gain"] = str(abs(gain))
        data["realized-day-gain-effect"] = "Credit" if gain >= 0 else "Debit"
        data["updated-at"] = iso(self.now_ms)
        self.notify("CurrentPosition", data)
        if held:
            self.positions[key] = data
        else:
            self.positions.pop(key, None)

    def _opening_balance(self, account: str) -> dict[str, Any]:
        values = {name: "0.0" for name in BALANCE_FIELDS}
        for name in MOVING:
            values[name] = money(self.rng.uniform(20_000, 60_000))
        return {
            "account-number": account,
            **values,
            "pending-cash-effect": "None",
            "unsettled-cryptocurrency-fiat-effect": "None",
            "snapshot-date": "2026-01-02",
            "updated-at": iso(self.now_ms),
        }

    def _balance(self, account: str, changes: list[tuple[dict[str, Any], int, Decimal]]) -> None:
        data = self.balances[account]
        cost = sum(float(price) * -delta for _, delta, price in changes)
        for name in MOVING:
            data[name] = money(float(data[name]) + cost * self.rng.uniform(0.5, 1.5))
        data["updated-at"] = iso(self.now_ms)
        self.notify("AccountBalance", data)

    # -- what REST reads

    def state(self) -> AccountState:
        """The accounts as a resync's REST read finds them."""
        return AccountState(
            self.accounts,
            tuple(decode_model(Order, data) for data in self.orders.values()),
            (),
            tuple(decode_model(Position, data) for data in self.positions.values()),
            tuple(decode_model(Balances, data) for data in self.balances.values()),
        )


def _strikes(price: float) -> list[int]:
    step = 5 if price > 300 else 1 if price < 100 else 2
    center = int(price) // step * step
    return [center + step * n for n in range(-6, 7)]


def _ratio(order: dict[str, Any], leg: dict[str, Any]) -> int:
    return int(leg["quantity"] // order["size"])


def _expiry(symbol: str) -> str:
    code = symbol[6:12]
    return f"20{code[:2]}-{code[2:4]}-{code[4:6]}"


def _leg_price(symbol: str, rng: random.Random) -> str:
    if len(symbol) > 6:  # an option
        return money(rng.uniform(0.05, 15.0))
    return money(STOCKS[symbol] * (1 + rng.uniform(-0.003, 0.003)))


class Framer:
    """Notifications as the server frames them: one a message, with ``timestamp`` and a
    ``ws-sequence`` that counts the socket's notifications; sometimes a group of them in
    one ``{"results": [...]}`` message."""

    def __init__(self) -> None:
        self.sequence = 0

    def frames(
        self, group: Sequence[tuple[str, str, int]], batch: bool
    ) -> list[tuple[str, Counter[str]]]:
        texts = []
        for kind, data, stamp in group:
            self.sequence += 1
            texts.append(
                f'{{"type":"{kind}","data":{data},"timestamp":{stamp},'
                f'"ws-sequence":{self.sequence}}}'
            )
        if batch and len(texts) > 1:
            return [('{"results":[' + ",".join(texts) + "]}", Counter(k for k, _, _ in group))]
        return [(text, Counter((kind,))) for text, (kind, _, _) in zip(texts, group, strict=True)]


def burst(
    notifications: int, in_flight: int, batch_share: float, seed: int = 7
) -> tuple[list[str], Counter[str]]:
    """``notifications`` notifications of orders walking their lives ``in_flight`` at a
    time, as the frames the server sends, and how many of each type."""
    book = Book(seed)
    rng = random.Random(seed + 1)
    framer = Framer()
    lives = [book.life() for _ in range(in_flight)]
    frames: list[str] = []
    kinds: Counter[str] = Counter()
    count = 0
    while count < notifications:
        n = rng.randrange(in_flight)
        book.now_ms += rng.randrange(15, 60)
        try:
            next(lives[n])
        except StopIteration:
            lives[n] = book.life()
        group = book.flush()[: notifications - count]
        count += len(group)
        for text, seen in framer.frames(group, rng.random() < batch_share):
            frames.append(text)
            kinds += seen
    return frames, kinds


# -- the parsers ----------------------------------------------------------------------------


def live_link(**options: Any) -> AccountStreamConnection:
    """A connection at LIVE with its first resync done, driven by hand as the server and
    the session would answer (no socket)."""
    link = AccountStreamConnection(ACCOUNTS, URL, **options)
    assert isinstance(link.next_action(0.0), FetchCredential)
    link.credential_received("Bearer bench-token", None, 0.0)
    assert isinstance(link.next_action(0.0), OpenSocket)
    link.socket_opened(0.0)
    (connect,) = link.messages_to_send()
    request = json.loads(connect)
    link.receive(dumps(_ack(request)), 0.0)
    action = link.next_action(0.0)
    assert isinstance(action, FetchState), action
    link.state_received(AccountState(ACCOUNTS), 0.0)
    assert link.state is AccountStreamState.LIVE, link.state
    link.events()
    return link


def _ack(request: dict[str, Any]) -> dict[str, Any]:
    answer = {"status": "ok", "action": request["action"], "web-socket-session-id": "b3nc4"}
    if request["action"] == "connect":
        answer["value"] = request["value"]
    answer["request-id"] = request["request-id"]
    return answer


Sink = Union[list[Any], "deque[Any]"]
Factory = Callable[[Sink], Callable[[], None]]


def ours(frames: list[str]) -> Factory:
    """What the stream's pump does with each message: ``receive``, then ``events()``; a
    fresh connection each round (one that saw the burst would drop it all as repeats)."""

    def make(sink: Sink) -> Callable[[], None]:
        link = live_link()

        def run() -> None:
            receive, events, extend = link.receive, link.events, sink.extend
            for text in frames:
                receive(text, 1.0)
                extend(events())

        return run

    return make


def json_only(frames: list[str]) -> Factory:
    def make(sink: Sink) -> Callable[[], None]:
        def run() -> None:
            loads, append = json.loads, sink.append
            for text in frames:
                append(loads(text))

        return run

    return make


MODELS = {"Order": Order, "CurrentPosition": Position, "AccountBalance": Balances}


def models_only(frames: list[str]) -> Factory:
    """``json.loads``, then our models' decoding of each notification's data, no machine."""

    def make(sink: Sink) -> Callable[[], None]:
        def run() -> None:
            loads, append, models = json.loads, sink.append, MODELS
            for text in frames:
                message = loads(text)
                for item in message.get("results", (message,)):
                    append(decode_model(models[item["type"]], item["data"]))

        return run

    return make


def reference(frames: list[str]) -> tuple[str, Factory] | None:
    """The reference SDK's decoding of the same frames, or nothing when it is not here."""
    try:
        tastytrade = importlib.import_module("tastytrade")
        classes = importlib.import_module("tastytrade.streamer").MAP_ALERTS
    except ImportError:
        return None

    def make(sink: Sink) -> Callable[[], None]:
        def run() -> None:
            loads, append = json.loads, sink.append
            for text in frames:
                message = loads(text)  # its websocket's receive_json
                kind = message.get("type")
                if kind is not None:  # its _reader, then _map_message
                    append(classes[kind](**message["data"]))
                else:  # a results batch: its reader drops these; decoded as it would
                    for item in message.get("results", ()):
                        append(classes[item["type"]](**item["data"]))

        return run

    version = getattr(tastytrade, "__version__", "?")
    return f"reference SDK (tastytrade {version}): json.loads + its models (MAP_ALERTS)", make


def collected(make: Factory) -> list[Any]:
    """Everything one run hands its consumer."""
    out: list[Any] = []
    make(out)()
    return out


def repeats(frames: list[str]) -> set[int]:
    """The notifications (by index) of a position or balances whose values, ``updated-at``
    aside, are those of the one before for the same key: ours drops them as no change."""
    last: dict[tuple[str, ...], dict[str, Any]] = {}
    found: set[int] = set()
    index = -1
    for text in frames:
        message = json.loads(text)
        for item in message.get("results", (message,)):
            index += 1
            data = {k: v for k, v in item["data"].items() if k != "updated-at"}
            if item["type"] == "CurrentPosition":
                key: tuple[str, ...] = ("position", data["account-number"], data["symbol"])
            elif item["type"] == "AccountBalance":
                key = ("balances", data["account-number"])
            else:
                continue
            if last.get(key) == data:
                found.add(index)
            last[key] = data
    return found


def check(ours_events: list[Any], theirs: list[Any]) -> None:
    """The same notifications, whichever parser: types, ids, statuses, fills, quantities
    and balances agree."""
    assert len(ours_events) == len(theirs), (len(ours_events), len(theirs))
    for a, b in zip(ours_events, theirs, strict=True):
        if isinstance(a, OrderUpdated):
            assert (a.order.id, a.order.status.value) == (b.id, b.status.value), (a, b)
            mine = sum(f.quantity for leg in a.order.legs for f in leg.fills)
            their = sum(f.quantity for leg in b.legs for f in leg.fills or ())
            assert mine == their, (a, b)
        elif isinstance(a, PositionUpdated):
            assert (a.position.symbol, a.position.quantity) == (b.symbol, b.quantity), (a, b)
        elif isinstance(a, BalancesUpdated):
            assert a.balances.net_liquidating_value == b.net_liquidating_value, (a, b)
            assert a.balances.cash_balance == b.cash_balance, (a, b)
        else:
            raise AssertionError(f"unexpected {a!r}")


OURS = "tastytrade-proto: receive + events()"


def section_decode(args: argparse.Namespace) -> str:
    frames, kinds = burst(args.notifications, args.in_flight, args.batch_share)
    notifications = sum(kinds.values())
    batches = sum(text.startswith('{"results"') for text in frames)
    size = sum(len(text) for text in frames)
    candidates: dict[str, Factory] = {
        "json.loads only (baseline)": json_only(frames),
        "json.loads + our models' decoding (no machine)": models_only(frames),
        OURS: ours(frames),
    }
    decoded = collected(candidates[OURS])
    same = repeats(frames)
    assert len(decoded) == notifications - len(same), (len(decoded), notifications, len(same))
    found = reference(frames)
    if found is not None:
        candidates[found[0]] = found[1]
        theirs = [item for index, item in enumerate(collected(found[1])) if index not in same]
        check(decoded, theirs)
    orders = len({e.order.id for e in decoded if isinstance(e, OrderUpdated)})
    legs = Counter(len(e.order.legs) for e in decoded if isinstance(e, OrderUpdated))
    del decoded
    if args.profile:
        return profile(candidates[OURS])
    drop: deque[Any] = deque(maxlen=0)  # the consumer: takes each event, keeps none
    runs = {name: partial(make, drop) for name, make in candidates.items()}
    times = cpu_rounds(runs, args.rounds)
    cpu = {name: statistics.median(c for c, _ in seen) for name, seen in times.items()}
    rows = []
    for name, seen in times.items():
        rows.append(
            [
                name,
                f"{notifications / cpu[name]:,.0f}",
                f"{cpu[name] * 1e6 / notifications:.2f}",
                f"{cpu[name] * 1e3:.0f}",
                f"{min(c for c, _ in seen) * 1e3:.0f}",
                f"{statistics.median(w for _, w in seen) * 1e3:.0f}",
                f"{cpu[name] / cpu[OURS]:.2f}x",
            ]
        )
    mix = ", ".join(f"{kinds[k]:,} {k}" for k in ("Order", "CurrentPosition", "AccountBalance"))
    shapes = ", ".join(f"{legs[n]:,} with {n} leg{'s' * (n > 1)}" for n in sorted(legs))
    out = table(
        f"6a. Decoding a burst of {notifications:,} account notifications ({len(frames):,} "
        f"messages, {batches:,} of them results batches; {size:,} bytes), no socket; "
        f"{args.rounds} interleaved rounds",
        [
            "parser",
            "notifications/s (CPU)",
            "CPU µs each",
            "median CPU ms",
            "min CPU ms",
            "median wall ms",
            "ours / this (rate)",
        ],
        rows,
    )
    out += (
        f"\nThe burst: {mix}; {orders:,} orders, {args.in_flight} in flight at a time (order "
        f"updates: {shapes}). Ours delivers one event per notification (checked), but for "
        f"{len(same)} balances or positions whose values, updated-at aside, repeat the one "
        "before: no change, so no event. The SDK's objects for those are left out of the "
        "comparison.\n"
    )
    if found is None:
        out += "The reference SDK (tastytrade) is not importable here (bench/README.md).\n"
    return out


def profile(make: Factory) -> str:
    """cProfile of one run of ours: where the time goes, by own time."""
    run = make(deque(maxlen=0))
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    buckets: Counter[str] = Counter()
    rows = []
    for (filename, line, name), (_, calls, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        if ("json" in filename and "decoder" in filename) or "_json" in name:
            bucket = "json.loads"
        elif filename.endswith("streaming/account.py") or filename.endswith("values.py"):
            bucket = "the machine's bookkeeping (account.py, values.py)"
        elif "tastytrade_proto" in filename or filename.startswith("<"):
            bucket = "model decoding (models, generated decoders)"
        else:
            bucket = "builtins (the decoders' dict.get, len, isinstance, ...)"
        buckets[bucket] += own
        rows.append((own, calls, f"{Path(filename).name}:{line} {name}"))
    rows.sort(reverse=True)
    lines = [f"{own / total:6.1%} {calls:>9,} {where}" for own, calls, where in rows[:25]]
    shares = [f"{share / total:6.1%}  {bucket}" for bucket, share in buckets.most_common()]
    return "\n".join(["Own time by bucket:", *shares, "", "Top functions:", *lines])


# -- a day of streaming, on a simulated clock --------------------------------------------------


class Session:
    """A connection, a scripted server and session, and a consumer that counts what it
    gets, on a simulated clock ticking each second."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.book = Book(seed=11)
        self.framer = Framer()
        self.rng = random.Random(12)
        self.link = AccountStreamConnection(ACCOUNTS, URL, jitter=lambda: 1.0)
        self.heap: list[tuple[float, int, Iterator[float]]] = []
        self.order_no = 0
        self.next_order = 0.0
        self.opening_at: float | None = None  # the socket opens then
        self.open = False
        self.counts: Counter[str] = Counter()

    def schedule(self, at: float, life: Iterator[float]) -> None:
        self.order_no += 1
        heapq.heappush(self.heap, (at, self.order_no, life))

    def server(self, now: float) -> None:
        """The accounts move: new orders, and the due steps of orders' lives."""
        args, book = self.args, self.book
        while self.next_order <= now:
            self.schedule(self.next_order, book.life())
            self.next_order += self.rng.expovariate(1 / args.order_every)
        while self.heap and self.heap[0][0] <= now:
            at, _, life = heapq.heappop(self.heap)
            book.now_ms = max(book.now_ms + 1, START_MS + int(at * 1000))
            step = next(life, None)
            if step is not None:
                self.schedule(at + step, life)
            group = book.flush()
            if not self.open:
                self.counts["missed"] += len(group)  # no socket: the resync finds them
                continue
            for text, _ in self.framer.frames(group, self.rng.random() < self.args.batch_share):
                self.link.receive(text, now)
                self.counts["messages"] += 1
        book.drop_ended(START_MS + int((now - args.live_list_hours * 3600) * 1000))

    def drive(self, now: float) -> None:
        """What a stream's pump does until the connection waits for the next message."""
        link = self.link
        for _ in range(100):
            action = link.next_action(now)
            self.consume()
            if isinstance(action, FetchCredential):
                self.counts["credentials"] += 1
                token = f"Bearer bench-access-token-{self.counts['credentials']}"
                link.credential_received(token, now + self.args.token_life, now)
            elif isinstance(action, OpenSocket):
                if self.opening_at is None:
                    self.opening_at = now + self.args.connect_seconds
                if now < self.opening_at:
                    return
                self.opening_at = None
                self.open = True
                self.framer = Framer()  # a new socket counts from 1
                link.socket_opened(now)
            elif isinstance(action, FetchState):
                self.counts["resyncs"] += 1
                link.state_received(self.book.state(), now)
            elif isinstance(action, CloseSocket):
                self.open = False
                link.socket_closed(None, now)
            elif isinstance(action, Pause):
                if action.until > now:
                    return
            elif isinstance(action, Finish):
                raise RuntimeError(f"the stream ended: {action.error}")
            elif isinstance(action, Exchange):
                answered = False
                for text in link.messages_to_send():
                    request = json.loads(text)
                    self.counts[request["action"]] += 1
                    link.receive(dumps(_ack(request)), now)
                    answered = True
                if answered:
                    continue
                if action.deadline is not None and action.deadline <= now:
                    link.handle_timer(now)
                    continue
                return
        raise RuntimeError("the connection did not settle")

    def consume(self) -> None:
        """The consumer: counts each event and keeps none."""
        for event in self.link.events():
            if isinstance(event, OrderUpdated):
                self.counts["order events"] += 1
                self.counts["fills"] += len(event.new_fills)
            elif isinstance(event, (PositionUpdated, BalancesUpdated)):
                self.counts["position/balance events"] += 1
            elif isinstance(event, Resync):
                self.counts["resynced orders"] += event.orders
            elif isinstance(event, Connected):
                self.counts["connects"] += 1
            else:
                self.counts[type(event).__name__] += 1

    def run(self, checkpoints: Sequence[float]) -> list[dict[str, Any]]:
        """Streams until the last checkpoint (hours), reading tracemalloc at each."""
        seen = []
        marks = [int(hours * 3600) for hours in checkpoints]
        drops = self.args.reconnect_every
        for second in range(marks[-1] + 1):
            now = float(second)
            self.drive(now)
            self.server(now)
            self.drive(now)
            if drops and second and second % drops == 0 and self.open:
                self.open = False
                self.link.socket_closed(
                    WebSocketClosed("closed", code=1012, reason="Reconnection is required"), now
                )
                self.drive(now)
            if second in marks:
                _, peak = tracemalloc.get_traced_memory()
                gc.collect()  # what is still reachable, not cycles awaiting the collector
                current, _ = tracemalloc.get_traced_memory()
                tracemalloc.reset_peak()
                link = self.link
                seen.append(
                    {
                        "hour": second / 3600,
                        "current": current,
                        "peak": peak,
                        "machine": deep_size(link),
                        "remembered": len(link._orders),  # what it tells new from old by
                        "positions": len(link._positions),
                        "on list": len(self.book.orders),
                        "placed": self.book.placed,
                        "fills made": self.book.fills,
                        **self.counts,
                    }
                )
        return seen


def deep_size(root: Any) -> int:
    """Bytes of ``root`` and everything it reaches (``sys.getsizeof``, each object once),
    leaving out classes, modules, functions and enum members, which are shared."""
    import enum
    import types

    shared = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, enum.Enum)
    seen = {id(root)}
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        total += sys.getsizeof(obj)
        for ref in gc.get_referents(obj):
            if id(ref) not in seen and not isinstance(ref, shared):
                seen.add(id(ref))
                stack.append(ref)
    return total


def section_memory(args: argparse.Namespace) -> str:
    cases = [(f"reconnect every {args.reconnect_every / 60:g} min", args.reconnect_every)]
    if args.steady:
        cases.append(("one socket all along", 0))
    rows, notes = [], []
    for what, every in cases:
        gc.collect()
        tracemalloc.start()
        started = time.perf_counter()
        session = Session(argparse.Namespace(**{**vars(args), "reconnect_every": every}))
        seen = session.run(args.checkpoints)
        tracemalloc.stop()
        took = time.perf_counter() - started
        for point in seen:
            rows.append(
                [
                    what,
                    f"{point['hour']:g}",
                    f"{point['placed']:,}",
                    f"{point.get('order events', 0):,} / {point.get('fills', 0):,} / "
                    f"{point['fills made']:,}",
                    f"{point.get('position/balance events', 0):,}",
                    f"{point.get('connects', 0)} / {point.get('resyncs', 0)} / "
                    f"{point.get('resynced orders', 0):,}",
                    f"{point.get('credentials', 0)} / {point.get('heartbeat', 0):,}",
                    f"{point['on list']:,}",
                    f"{point['remembered']:,}",
                    f"{point['positions']:,}",
                    f"{point['machine'] / KiB:,.0f}",
                    f"{point['current'] / KiB:,.0f}",
                    f"{point['peak'] / KiB:,.0f}",
                ]
            )
        last = seen[-1]
        odd = {k: v for k, v in last.items() if k in ("MalformedMessage", "ActionRefused")}
        notes.append(
            f"{what}: {took:.0f} s of real time under tracemalloc; notifications sent while "
            f"no socket was open {last.get('missed', 0):,}; malformed or refused: "
            f"{odd or 'none'}."
        )
    return (
        table(
            f"6b. Memory over {args.checkpoints[-1]:g} simulated hours of one account stream "
            f"({len(ACCOUNTS)} accounts): an order placed every {args.order_every:g} s on "
            f"average, heartbeats every 20 s, a credential expiring {args.token_life:g} s "
            "after it is handed over, the server closing with 1012 (reconnect in "
            f"{args.connect_seconds:g} s, then a resync), terminal orders leaving the live "
            f"list after {args.live_list_hours:g} h; no socket (tracemalloc)",
            [
                "case",
                "hour",
                "orders placed",
                "order events / new fills / fills made",
                "position + balance events",
                "connects / resyncs / orders a resync reported",
                "credentials / heartbeats",
                "orders on the live list",
                "orders remembered",
                "positions remembered",
                "machine KiB (deep size)",
                "current KiB",
                "peak KiB since the last row",
            ],
            rows,
        )
        + "\n"
        + " ".join(notes)
        + " Current: after gc.collect(), what is still reachable in the whole process (the "
        "scripted server's book of orders, positions and balances included); machine: the "
        "connection and all it reaches. A checkpoint on the hour comes just before that "
        "hour's resync.\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    decode = commands.add_parser("decode", help="a recorded burst, four parsers")
    decode.add_argument("--notifications", type=int, default=100_000)
    decode.add_argument("--in-flight", type=int, default=24, help="orders in flight at once")
    decode.add_argument("--batch-share", type=float, default=0.35)
    decode.add_argument("--rounds", type=int, default=9)
    decode.add_argument("--profile", action="store_true", help="cProfile ours once instead")
    memory = commands.add_parser("memory", help="a day of streaming on a simulated clock")
    memory.add_argument("--checkpoints", type=float, nargs="+", default=[2, 6, 12, 18, 24])
    memory.add_argument("--order-every", type=float, default=20.0, help="seconds, on average")
    memory.add_argument("--token-life", type=float, default=900.0, help="seconds")
    memory.add_argument("--reconnect-every", type=int, default=3600, help="seconds")
    memory.add_argument("--connect-seconds", type=float, default=15.0)
    memory.add_argument("--live-list-hours", type=float, default=2.0)
    memory.add_argument("--batch-share", type=float, default=0.35)
    memory.add_argument(
        "--no-steady", dest="steady", action="store_false", help="skip the one-socket case"
    )
    args = parser.parse_args(argv)
    if args.command == "decode":
        print(section_decode(args))
    else:
        print(section_memory(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
