# -*- coding: utf-8 -*-
"""Fixtures for tests against the throwaway Samba AD DC (tests/integration/dc/samba_dc.py).

``samba_dc`` starts one DC per pytest session (provisioning ~5 s, start-up
~5-15 s) and stops it at the end. Without the samba binaries the tests that use
it are skipped with the reason; CI installs them (bindep.txt), so they run there.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'dc'))

import samba_dc as _samba_dc  # noqa: E402  pylint: disable=wrong-import-position


def _session_dc(tmp_path_factory, prefix, **kwargs):
    """Start a DC with a realm of its own (a read-only DC of this session must not find another session's DC of
    the same realm); yield it; stop it."""
    reason = _samba_dc.samba_available()
    if reason:
        pytest.skip(reason)
    realm, netbios = _samba_dc.unique_realm(prefix)
    dc = _samba_dc.SambaDC(str(tmp_path_factory.mktemp('dc-%s' % prefix.lower())), realm=realm, domain=netbios,
                           **kwargs)
    dc.start()
    try:
        yield dc
    finally:
        dc.stop()


@pytest.fixture(scope='session')
def samba_dc(tmp_path_factory):
    """A running SambaDC (see samba_dc.SambaDC for its attributes), with LDAPS."""
    yield from _session_dc(tmp_path_factory, 'C')


@pytest.fixture(scope='session')
def hardened_dc(tmp_path_factory):
    """A running SambaDC with no certificate and ``ldap server require strong auth = yes``."""
    yield from _session_dc(tmp_path_factory, 'H', hardened=True)


@pytest.fixture(scope='session')
def net_offlinejoin():
    """samba_dc.net_offlinejoin_provision: Samba's own package producer (the reference)."""
    return _samba_dc.net_offlinejoin_provision
