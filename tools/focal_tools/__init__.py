# SPDX-License-Identifier: AGPL-3.0-or-later
"""Helpers for focal's Python tooling (test-model generation)."""
