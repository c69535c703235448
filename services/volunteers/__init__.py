"""The volunteers service."""
