"""The loopback CONNECT proxy of the transports' proxy tests (it ships in the testing package)."""

from tastytrade_proto.testing.proxy import ConnectProxy

__all__ = ["ConnectProxy"]
