"""Helpers for focal's Python tooling (test-model generation)."""
