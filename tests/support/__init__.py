"""Helpers the test modules, private servers and benchmarks share; fixtures stay in tests/conftest.py."""
