# -*- coding: utf-8 -*-
"""The one SID codec: text and binary forms, as the package codec and the quota check use them."""

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.common import sid as _sid


@pytest.mark.parametrize('text', ['S-1-5-21-2720103478-3893655958-3880862394-1124', 'S-1-5-32-544', 'S-1-0x123456789ABC-7'])
def test_round_trip(text):
    raw = _sid.sid_to_bytes(text)
    assert _sid.sid_from_bytes(raw) == text
    assert _sid.format_sid(*_sid.parse_sid(text)) == text


def test_binary_layout_is_ms_dtyp():
    raw = _sid.sid_to_bytes('S-1-5-32-544')
    assert raw == bytes([1, 2, 0, 0, 0, 0, 0, 5]) + (32).to_bytes(4, 'little') + (544).to_bytes(4, 'little')


@pytest.mark.parametrize('bad', ['X-1-5', 'S-1', 'S-1-5-x', 'S-256-5-1', 'S-1-5-' + '-'.join(['1'] * 16)])
def test_bad_text_is_named(bad):
    with pytest.raises(ValueError, match='SID'):
        _sid.parse_sid(bad)


def test_bad_bytes():
    with pytest.raises(ValueError, match='malformed'):
        _sid.sid_from_bytes(b'\x01\x05\x00')
    with pytest.raises(ValueError, match='length'):
        _sid.sid_from_bytes(bytes([1, 3, 0, 0, 0, 0, 0, 5]) + b'\x00' * 4)


def test_split_rid_gives_the_domain_and_the_relative_identifier():
    assert _sid.split_rid('S-1-5-21-2720103478-3893655958-3880862394-1105') == (
        'S-1-5-21-2720103478-3893655958-3880862394', 1105)
    for bad in ('S-1-5', 'not a sid', None, 'S-1-5-21-x'):
        with pytest.raises(ValueError):
            _sid.split_rid(bad)
