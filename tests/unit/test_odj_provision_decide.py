# -*- coding: utf-8 -*-
"""The provisioner's decisions as pure functions: decide(), account_in_use(), Progress."""

from ansible_collections.winimage.provisioning.plugins.module_utils.ad.accounts import Account
from ansible_collections.winimage.provisioning.plugins.module_utils.provision.decide import (
    ACCOUNT_MARKER, OWN_LOGON_WINDOW, StoreEntry, account_in_use, decide, filetime_text)
from ansible_collections.winimage.provisioning.plugins.module_utils.provision.provisioner import Progress

SET = 134405747418510340  # pwdLastSet of an account (FILETIME)
MINUTE = 60 * 10 ** 7


def account(**kwargs):
    fields = dict(name='WS01', dn='CN=WS01,CN=Computers,DC=corp,DC=example,DC=test', sid='S-1-5-21-1-2-3-1105',
                  rid=1105, guid=None, user_account_control=0x1000, dns_host_name=None, spns=[],
                  object_classes=['top', 'person', 'user', 'computer'], sam_account_name='WS01$',
                  supported_enctypes=0x1C, description=ACCOUNT_MARKER, pwd_last_set=SET, logon_count=0)
    fields.update(kwargs)
    return Account(**fields)


def test_no_account_is_created():
    assert decide('WS01', None, None).action == 'create'


def test_a_working_package_is_kept():
    store = StoreEntry(path='/s/WS01.djoin', usable=True, verified=True)
    assert decide('WS01', account(operating_system='Windows 11 Pro'), store).action == 'keep'
    assert decide('WS01', account(), StoreEntry(path='/s/WS01.djoin', usable=True)).action == 'keep'  # check mode


def test_empty_store_reprovisions_an_unused_account_made_here():
    d = decide('WS01', account(last_logon=SET + MINUTE, last_logon_timestamp=SET + MINUTE, logon_count=2), None)
    assert d.action == 'reset' and 'not used by any machine yet' in d.msg


def test_an_account_in_use_is_refused_unless_asked():
    for used in (account(operating_system='Windows 11 Enterprise'),
                 account(last_logon_timestamp=SET + OWN_LOGON_WINDOW + 1),
                 account(last_logon=SET + 3 * OWN_LOGON_WINDOW, description=None)):
        for options in ({}, {'reuse_account': True}):
            d = decide('WS01', used, None, **options)
            assert d.action == 'refuse' and 'WS01$' in d.msg and 'in use' in d.msg
            assert 'reset_accounts_in_use' in d.msg
        assert decide('WS01', used, None, reset_accounts_in_use=True).action == 'reset'
    stale = StoreEntry(path='/s/WS01.djoin', usable=True, verified=False)
    d = decide('WS01', account(operating_system='Windows 11 Pro'), stale)
    assert d.action == 'refuse' and 'no longer authenticates' in d.msg


def test_an_account_made_elsewhere_needs_reuse_account():
    other = account(description='asset 4711')
    d = decide('WS01', other, None)
    assert d.action == 'refuse' and 'not made by winimage.provisioning' in d.msg and 'reuse_account' in d.msg
    assert decide('WS01', other, None, reuse_account=True).action == 'reset'
    assert decide('WS01', other, StoreEntry(pending=True)).action == 'reset'  # our own half-made account


def test_a_package_the_store_cannot_use_is_not_overwritten():
    store = StoreEntry(path='/s/WS01.djoin.vault', note='/s/WS01.djoin.vault is vault-encrypted')
    d = decide('WS01', account(), store)
    assert d.action == 'refuse' and 'vault-encrypted' in d.msg
    assert decide('WS01', account(), store, reuse_account=True).action == 'reset'


def test_a_stale_package_of_an_unused_account_is_renewed():
    store = StoreEntry(path='/s/WS01.djoin', usable=True, verified=False)
    d = decide('WS01', account(description=None), store)
    assert d.action == 'reset' and 'no longer authenticates' in d.msg


def test_not_a_workstation():
    d = decide('DC1', account(user_account_control=0x2000), None, reset_accounts_in_use=True)
    assert d.action == 'refuse' and 'not a workstation' in d.msg


def test_account_in_use_reasons():
    assert account_in_use(account(last_logon=SET + MINUTE)) == []
    reasons = account_in_use(account(last_logon_timestamp=SET + OWN_LOGON_WINDOW + MINUTE))
    assert reasons == ['it logged on at %s (lastLogonTimestamp), after its password was set at %s' % (
        filetime_text(SET + OWN_LOGON_WINDOW + MINUTE), filetime_text(SET))]
    assert filetime_text(SET) == '2026-12-01T04:59:01Z'


def test_progress_every_tenth_and_at_the_end():
    lines = []
    clock = iter(range(1000)).__next__  # one "second" per call: the interval never decides here
    progress = Progress(60, lines.append, interval=10 ** 6, clock=clock)
    for index in range(60):
        progress.finished(failed=index in (7, 8))
    assert lines == ['%d/60 done, %d failed' % (n, 0 if n < 8 else 1 if n == 8 else 2) for n in range(6, 61, 6)]


def test_progress_every_few_seconds():
    now = [0.0]
    lines = []
    progress = Progress(1000, lines.append, interval=5.0, clock=lambda: now[0])
    for _index in range(30):
        now[0] += 1.0
        progress.finished()
    assert lines == ['5/1000 done, 0 failed', '10/1000 done, 0 failed', '15/1000 done, 0 failed',
                     '20/1000 done, 0 failed', '25/1000 done, 0 failed', '30/1000 done, 0 failed']
    quiet = []
    small = Progress(3, quiet.append)
    for _index in range(3):
        small.finished()
    assert quiet == []
