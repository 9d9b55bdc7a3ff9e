"""Suites: planning trials from a suite, executing the pending ones, and what the execution did."""
