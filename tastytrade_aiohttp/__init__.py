"""The aiohttp transport for tastytrade-proto (arrives with issue 4; empty for now).

It will drive :class:`tastytrade_proto.Operation` steps over aiohttp and hold no
protocol logic of its own.
"""

__all__: list[str] = []
