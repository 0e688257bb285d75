# -*- coding: utf-8 -*-
"""Assertions shared by the codec tests."""


def assert_same_bytes(got, want, name=''):
    """Byte equality whose failure names the first differing offset, never the bytes (they hold a password)."""
    same = got == want
    if not same:
        first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        assert same, '%s: %d vs %d bytes, first difference at offset %d' % (name, len(got), len(want), first)
