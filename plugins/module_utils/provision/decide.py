# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provisioner's rules, as pure functions: no LDAP, no files, no clock.

What the provisioner decides for one machine, from what the DC and the package
store say, is decided here and only here:

* check_machine_name(): is a requested name a valid computer name (NetBIOS and DNS rules)?
* default_password(): the password ``NETSETUP_PROVISION_USE_DEFAULT_PASSWORD`` gives;
* made_here(), account_in_use(), is_workstation(): what an existing account is;
* package_mismatch(): is a package file the store holds one for this machine, domain and account?
* decide(): keep the package, create the account, reset its password, or refuse (and why).

provision/provisioner.py gathers the facts (one LDAP search, the store's files, the
password checks), calls these, and carries out what they say.
"""

from __future__ import annotations

import collections
import datetime
import re

from ansible_collections.winimage.provisioning.plugins.module_utils.ad.accounts import (
    UF_SERVER_TRUST_ACCOUNT, UF_WORKSTATION_TRUST_ACCOUNT)
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.decide import package_join, same_join
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import PART_JOINPROV3

# The description a new account gets: how a later run (with an empty store) knows the account is one this
# collection made. An account an administrator relabels is treated as not ours (it needs reuse_account).
ACCOUNT_MARKER = 'Offline domain join account made by winimage.provisioning'
# The password check right after a write is a logon as the account, seconds after its password was set; a
# logon later than this (100 ns units, as the DC keeps times) after the last password set is a machine's.
OWN_LOGON_WINDOW = 10 * 60 * 10 ** 7
_FILETIME_EPOCH = datetime.datetime(1601, 1, 1, tzinfo=datetime.timezone.utc)

_NAME_RE = re.compile(r'^[A-Za-z0-9-]+$')

# A machine's status in odj_provision's result that makes it a failure of the task
STATUS_FAILED = ('invalid', 'conflict', 'failed')


def check_machine_name(name):
    """Upper-case NetBIOS name, or ValueError saying what is wrong with it."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError('empty machine name')
    name = name.strip()
    if '.' in name:
        raise ValueError('give the short computer name, not a DNS name (%r has a dot)' % name)
    if len(name) > 15:
        raise ValueError('name too long: %d characters (NetBIOS computer names have at most 15)' % len(name))
    if not _NAME_RE.match(name):
        bad = sorted(set(c for c in name if not re.match(r'[A-Za-z0-9-]', c)))
        raise ValueError('invalid character(s) %s: DNS host names allow letters, digits and hyphens'
                         % ' '.join(repr(c) for c in bad))
    if name.startswith('-') or name.endswith('-'):
        raise ValueError('name must not start or end with a hyphen')
    if name.isdigit():
        raise ValueError('name must not be only digits')
    return name.upper()


def default_password(name):
    """NETSETUP_PROVISION_USE_DEFAULT_PASSWORD: the machine name in lower case (first 14 characters)."""
    return name.lower()[:14]


def filetime_text(value):
    """A FILETIME (100 ns units since 1601, as AD keeps times) as an ISO 8601 UTC text."""
    when = _FILETIME_EPOCH + datetime.timedelta(microseconds=value // 10)
    return when.strftime('%Y-%m-%dT%H:%M:%SZ')


def made_here(account):
    """True when account carries the description this collection gives the accounts it creates."""
    return (account.description or '').startswith(ACCOUNT_MARKER)


def account_in_use(account):
    """Why a machine uses account: a list of reasons, empty when no machine has used it yet.

    * ``operatingSystem`` is set: a Windows machine joined with the account (it writes
      the attribute when it first reaches a DC);
    * a logon later than ``OWN_LOGON_WINDOW`` after the password was last set
      (``lastLogonTimestamp``, replicated; ``lastLogon``, this DC's own record). The
      check a run makes right after setting a password is such a logon, seconds after
      the set; a later logon is a machine's, or a run's that found the package and tried it.
    """
    reasons = []
    if account.operating_system:
        reasons.append('a machine joined with it (operatingSystem: %s)' % account.operating_system)
    set_at = account.pwd_last_set or 0
    for attr, value in (('lastLogonTimestamp', account.last_logon_timestamp), ('lastLogon', account.last_logon)):
        if value and value > set_at + OWN_LOGON_WINDOW:
            reasons.append('it logged on at %s (%s), after its password was set%s' % (
                filetime_text(value), attr, ' at %s' % filetime_text(set_at) if set_at else ''))
            break
    return reasons


def is_workstation(account):
    classes = [c.lower() for c in account.object_classes]
    uac = account.user_account_control or 0
    return 'computer' in classes and not uac & UF_SERVER_TRUST_ACCOUNT and bool(uac & UF_WORKSTATION_TRUST_ACCOUNT)


# What the store holds for a machine: its package file (path), whether it is usable for this machine and
# account (else note says why), and whether its password authenticates (None: not tried, as in check mode).
StoreEntry = collections.namedtuple('StoreEntry', ['path', 'usable', 'verified', 'note', 'pending'])
StoreEntry.__new__.__defaults__ = (None, False, None, None, False)
# action: keep (the package is good), create, reset (new password for the existing account), refuse
Decision = collections.namedtuple('Decision', ['action', 'msg'])


def decide(name, account, store, reuse_account=False, reset_accounts_in_use=False):
    """What to do for one machine: a pure function of the account, the store and the options.

    name: the machine (upper case); account: the Account the DC has (None: none);
    store: its StoreEntry (``pending``: an earlier run of this store was making or
    resetting this very account). Returns a Decision.

    An account the store has no package file for (an empty store: an AWX relaunch,
    another slice) is re-provisioned when this collection made it and no machine has
    used it; one a machine uses is never reset unless ``reset_accounts_in_use``; one this
    collection did not make needs ``reuse_account`` (``djoin /reuse``).
    """
    store = store or StoreEntry()
    if account is None:
        return Decision('create', 'account created')
    if not is_workstation(account):
        return Decision('refuse', '%s$ exists at %s and is not a workstation account; it cannot be used'
                        % (name, account.dn))
    if store.usable and store.verified is not False:
        return Decision('keep', 'package file present and its password authenticates' if store.verified else
                        'package %s matches the account (password not tried in check mode)' % store.path)
    note = store.note
    if store.usable:
        note = 'the password in %s no longer authenticates' % store.path
    in_use = account_in_use(account)
    if in_use:
        if not reset_accounts_in_use:
            return Decision('refuse', '%s$ at %s is in use: %s%s; its password is not reset (the machine using it '
                            'would lose its domain trust); set reset_accounts_in_use=true to reset it anyway' % (
                                name, account.dn, '; '.join(in_use), ' (%s)' % note if note else ''))
        why = 'reset_accounts_in_use although in use: %s' % '; '.join(in_use)
    elif store.usable:
        why = note
        note = None
    elif store.pending or (made_here(account) and not store.path):
        why = 'made by this collection and not used by any machine yet: re-provisioned'
    elif reuse_account:
        why = 'reuse_account'
    else:
        # a package file the store has but cannot use (another vault password, another account) is not ignored
        return Decision('refuse', '%s$ already exists at %s%s%s; set reuse_account=true to reuse it (its password '
                        'will be reset)' % (name, account.dn, '' if made_here(account) else
                                            ' and was not made by winimage.provisioning',
                                            ' (%s)' % note if note else ''))
    return Decision('reset', 'password of the existing account reset (%s)%s' % (
        why, ' (%s)' % note if note else ''))


def package_mismatch(pd, path, name, dns_domain, account):
    """Why the package pd (read from path) is not usable for machine name in dns_domain and account; None if it is.

    A package for another machine or domain, or one naming another account (SID), is not used
    (and not overwritten without a decision: see decide()).
    """
    if pd.win7 is None or not same_join(name, dns_domain, *package_join(pd)):
        return '%s is a package for another machine or domain' % path
    part = pd.part(PART_JOINPROV3)
    sid = part.sid if part is not None else None
    if account is not None and sid and account.sid and sid != account.sid:
        return '%s names another account (SID %s, the account has %s)' % (path, sid, account.sid)
    return None
