"""Streaming: DXLink market data, as a sans-I/O machine and the feeds transports run."""
