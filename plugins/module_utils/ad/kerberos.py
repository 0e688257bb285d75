# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kerberos through the MIT/Heimdal user tools: a private krb5.conf, kinit with a keytab or a password.

The AD client binds with pyspnego, which takes tickets from a credential cache;
``kinit`` fills one from a keytab (``kinit_keytab``), and an AS exchange as
``NAME$@REALM`` tells whether a machine password is the account's current one
(``kinit_check``; ``secret.verify_secret`` decides when to use it). The password
goes to kinit on its standard input, never on a command line or in a file;
the ticket stays in a ``MEMORY:`` cache.

``run_command(argv, data=bytes, env=dict) -> (rc, stdout, stderr)`` runs kinit
(the modules pass AnsibleModule.run_command).
"""

from __future__ import annotations

import os
import re
import threading

from ansible_collections.winimage.provisioning.plugins.module_utils.ad.errors import ADError, clean

# kinit's words for "this password is not the account's current one" (or no such account)
_REFUSED = ('Password incorrect', 'Preauthentication failed', 'not found in Kerberos',
            'Client\'s credentials have been revoked', 'Password has expired')


def kinit_path():
    """The kinit command, or None when the krb5 user tools are missing."""
    for directory in os.environ.get('PATH', '').split(os.pathsep) + ['/usr/bin', '/usr/local/bin']:
        candidate = os.path.join(directory, 'kinit')
        if directory and os.access(candidate, os.X_OK):
            return candidate
    return None


def krb5_conf(directory, realm, kdc):
    """A krb5.conf in directory that sends realm's AS exchanges to kdc (made once; threads share it)."""
    path = os.path.join(directory, 'verify-krb5-%s.conf' % re.sub(r'[^A-Za-z0-9.-]', '_', kdc))
    if not os.path.exists(path):
        content = ('[libdefaults]\n\tdefault_realm = {r}\n\tdns_lookup_kdc = false\n\tdns_lookup_realm = false\n'
                   '\trdns = false\n\tudp_preference_limit = 1\n[realms]\n\t{r} = {{\n\t\tkdc = {k}\n\t}}\n'
                   .format(r=realm, k=kdc))
        tmp = '%s.%d.%d' % (path, os.getpid(), threading.get_ident())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'w') as handle:
            handle.write(content)
        os.replace(tmp, path)
    return path


def kinit_check(sam_account_name, password, realm, kdc, run_command, directory):
    """True when an AS exchange as sam_account_name@realm with password succeeds against kdc; ADError when unsure."""
    env = {'KRB5_CONFIG': krb5_conf(directory, realm, kdc), 'LC_ALL': 'C', 'KRB5CCNAME': 'MEMORY:odj-verify'}
    principal = '%s@%s' % (sam_account_name, realm)
    rc, _out, error = run_command([kinit_path(), '-c', 'MEMORY:odj-verify', principal],
                                  (password + '\n').encode('utf-8', 'surrogatepass'), env)
    if rc == 0:
        return True
    if isinstance(error, bytes):
        error = error.decode('utf-8', 'replace')
    if any(text in error for text in _REFUSED):
        return False
    raise ADError('checking the password of %s with the KDC %s failed: %s' % (principal, kdc, clean(error)),
                  'kerberos')


def kinit_keytab(keytab, principal, ccache, run_command):
    """Fill ccache with a ticket of principal from keytab; ADError naming what is missing or what kinit said."""
    if not os.path.isfile(keytab):
        raise ADError('keytab %s does not exist' % keytab, 'kerberos')
    if not principal:
        raise ADError('a principal (domain_username) is needed with a keytab', 'kerberos')
    if run_command is None or not kinit_path():
        raise ADError('a keytab needs the kinit command (krb5 user tools)', 'kerberos')
    rc, _out, err = run_command([kinit_path(), '-k', '-t', keytab, '-c', ccache, principal], None, {})
    if rc != 0:
        raise ADError('kinit with keytab %s for %s failed: %s' % (keytab, principal, clean(err)), 'kerberos')
