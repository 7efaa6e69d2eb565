"""The protocol machinery (placeholder)."""
