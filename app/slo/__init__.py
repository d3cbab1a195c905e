"""The SLO engine: definitions, windows, data SLIs and burn-rate arithmetic.

Everything in this package is pure and storage-independent: callers hand in
timestamps, counts and definitions and get exact answers back, so the store, the
scheduler and the tests all drive the same code.
"""
