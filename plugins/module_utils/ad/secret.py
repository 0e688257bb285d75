# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Does a machine password authenticate? The one check, Kerberos first.

``verify_secret`` is what odj_provision (the password of an existing package)
and odj_verify_secret (the secret in an image) both ask; ``verify_passwords``
asks it for many accounts at once over a bound client's DC and options.
"""

from __future__ import annotations

import concurrent.futures

from ansible_collections.winimage.provisioning.plugins.module_utils.ad.connection import Connection
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.errors import ADError
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.kerberos import kinit_check, kinit_path
from ansible_collections.winimage.provisioning.plugins.module_utils.common.atomic import private_temp_dir, remove_workdir


def verify_secret(sam_account_name, password, realm, kdc, run_command=None, workdir=None, ldap=None):
    """Does password authenticate as sam_account_name (``NAME$``) of realm? -> (bool, how).

    The one check of odj_provision (the password of an existing package) and
    odj_verify_secret (the secret in an image). Kerberos first: an AS exchange
    (``kinit``) as ``NAME$@REALM`` against kdc, which only the account's current
    password passes (``how`` = 'kerberos'). Only when the krb5 tools (or
    run_command) are missing, an LDAP bind as the account with ``ldap`` (``Connection``
    keyword arguments: server and connection options; NTLM over sealed SASL or
    TLS, never a readable password): ``how`` = 'ldap_bind'. A DC accepts the
    previous password there for up to an hour after a reset (NTLM's
    old-password lifetime), so that fallback can call a just-replaced password
    valid. Raises ADError when it cannot tell (KDC unreachable, ...).
    """
    if not sam_account_name or not realm:
        raise ADError('a password check needs the account name and the realm', 'options')
    if run_command is not None and kinit_path():
        own = workdir is None
        directory = workdir or private_temp_dir('krb5-', legacy_prefix='odj-krb5-')
        try:
            return kinit_check(sam_account_name, password, realm.upper(), kdc, run_command, directory), 'kerberos'
        finally:
            if own:
                remove_workdir(directory, parent_too=True)
    if ldap is None:
        raise ADError('checking the password of %s needs kinit (krb5 user tools) or an LDAP connection'
                      % sam_account_name, 'missing_library')
    options = dict(ldap)
    server = options.pop('server')
    for name in ('username', 'password', 'ccache', 'keytab', 'run_command'):
        options.pop(name, None)
    options['auth_protocol'] = 'simple' if options.get('auth_protocol') == 'simple' else 'ntlm'
    bind = Connection(server, username='%s@%s' % (sam_account_name, realm.upper()), password=password, **options)
    try:
        bind.connect()
        return True, 'ldap_bind'
    except ADError as exc:
        if exc.kind == 'bad_credentials':
            return False, 'ldap_bind'
        raise
    finally:
        bind.close()


def verify_password(client, account_dn, password, sam_account_name=None, realm=None, kdc=None):
    """True when password is the account's current password, checked at client's DC (``verify_secret``).

    account_dn is kept for callers; the check is by sAMAccountName and realm.
    """
    del account_dn
    ok, _how = verify_secret(sam_account_name, password, realm or client.domain,
                             kdc or client.peer_address or client.server, run_command=client.run_command,
                             workdir=client.workdir(), ldap=client.account_options())
    return ok


def verify_passwords(client, checks, workers=8):
    """verify_password for many accounts: a list of True, False or ADError, in the order of checks.

    checks: (account_dn, password, sam_account_name, realm) tuples. The Kerberos
    exchanges are independent, so up to ``workers`` run at once.
    """
    def one(check):
        try:
            return verify_password(client, *check)
        except ADError as exc:
            return exc
    checks = list(checks)
    if len(checks) < 2 or workers < 2:
        return [one(check) for check in checks]
    client.workdir()  # made once, before the threads share it
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, checks))
