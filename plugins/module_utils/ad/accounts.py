# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Computer accounts in AD: create them the way Windows does, find them, reset their passwords.

* ``computer_attributes``: what Windows (and Samba's ``net``) give a new
  workstation account: objectClass computer, ``NAME$``, workstation trust,
  dNSHostName, HOST/ and RestrictedKrbHost/ SPNs, the encryption types, and the
  password in the same add request;
* ``find_accounts`` / ``queue_find_accounts``: the accounts ``NAME$`` (any
  object class) under a base DN, as ``Account`` tuples;
* ``queue_create_computer`` / ``queue_set_password`` / ``set_password``: the
  writes, queued on a ``Pipeline`` so that a batch keeps several requests in
  flight. A password is only sent over TLS or a sealed SASL layer
  (``require_protected``).

``client`` is a bound ``connection.Connection``.
"""

from __future__ import annotations

import collections

from ansible_collections.winimage.provisioning.plugins.module_utils.ad.errors import ADError, lost, result_error
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.values import (
    escape_dn_value, filter_value, guid_from_bytes, int_value, object_sid, text_value)
from ansible_collections.winimage.provisioning.plugins.module_utils.common.sid import split_rid

# userAccountControl
UF_ACCOUNTDISABLE = 0x2
UF_PASSWD_NOTREQD = 0x20
UF_WORKSTATION_TRUST_ACCOUNT = 0x1000
UF_SERVER_TRUST_ACCOUNT = 0x2000
# msDS-SupportedEncryptionTypes Windows and Samba give a new machine: RC4, AES128, AES256
DEFAULT_ENCTYPES = 0x1C
# ldap3's name of an LDAP modify "replace" (ldap3.MODIFY_REPLACE)
MODIFY_REPLACE = 'MODIFY_REPLACE'

Account = collections.namedtuple('Account', [
    'name', 'dn', 'sid', 'rid', 'guid', 'user_account_control', 'dns_host_name', 'spns', 'object_classes',
    'sam_account_name', 'supported_enctypes', 'description', 'operating_system', 'last_logon_timestamp',
    'last_logon', 'logon_count', 'pwd_last_set', 'when_created', 'key_version'])
# what shows whether a machine uses an account (odj_provision.account_in_use), and the version of its
# password (msDS-KeyVersionNumber); absent on old callers
Account.__new__.__defaults__ = (None,) * 8

ACCOUNT_ATTRS = ['objectSid', 'objectGUID', 'userAccountControl', 'dNSHostName', 'servicePrincipalName',
                 'objectClass', 'sAMAccountName', 'msDS-SupportedEncryptionTypes',
                 'description', 'operatingSystem', 'lastLogonTimestamp', 'lastLogon', 'logonCount', 'pwdLastSet',
                 'whenCreated', 'msDS-KeyVersionNumber']


def account_from_entry(dn, raw):
    """Account of a search entry (raw: lower-case attribute -> [bytes]) read with ACCOUNT_ATTRS."""
    sid = object_sid(raw['objectsid'][0]) if raw.get('objectsid') else None
    sam = text_value(raw['samaccountname'][0]) if raw.get('samaccountname') else None
    return Account(
        name=(sam or '').rstrip('$').upper(), dn=dn, sid=sid, rid=split_rid(sid)[1] if sid else None,
        guid=guid_from_bytes(raw['objectguid'][0]) if raw.get('objectguid') else None,
        user_account_control=int_value(raw.get('useraccountcontrol')),
        dns_host_name=text_value(raw['dnshostname'][0]) if raw.get('dnshostname') else None,
        spns=sorted(text_value(v) for v in raw.get('serviceprincipalname', [])),
        object_classes=[text_value(v) for v in raw.get('objectclass', [])], sam_account_name=sam,
        supported_enctypes=int_value(raw.get('msds-supportedencryptiontypes')),
        description=text_value(raw['description'][0]) if raw.get('description') else None,
        operating_system=text_value(raw['operatingsystem'][0]) if raw.get('operatingsystem') else None,
        last_logon_timestamp=int_value(raw.get('lastlogontimestamp')), last_logon=int_value(raw.get('lastlogon')),
        logon_count=int_value(raw.get('logoncount')), pwd_last_set=int_value(raw.get('pwdlastset')),
        when_created=text_value(raw['whencreated'][0]) if raw.get('whencreated') else None,
        key_version=int_value(raw.get('msds-keyversionnumber')))


def accounts_filter(names):
    """LDAP filter for the accounts NAME$ of names."""
    return '(|%s)' % ''.join('(sAMAccountName=%s$)' % filter_value(n) for n in names)


def find_accounts(client, base_dn, names, chunk=100):
    """{NAME: Account} for the accounts named NAME$ (any object class) under base_dn."""
    found = {}
    names = list(names)
    for start in range(0, len(names), chunk):
        part = names[start:start + chunk]
        for dn, raw in client.search(base_dn, accounts_filter(part), 'subtree', ACCOUNT_ATTRS):
            account = account_from_entry(dn, raw)
            found[account.name] = account
    return found


def computer_attributes(name, dns_domain, password=None, enctypes=DEFAULT_ENCTYPES, description=None):
    """The attributes Windows (and Samba's net) give a new workstation account (and description, if given)."""
    upper = name.upper()
    fqdn = '%s.%s' % (upper, dns_domain.lower())
    attrs = {
        'objectClass': ['computer'],
        'sAMAccountName': '%s$' % upper,
        'userAccountControl': str(UF_WORKSTATION_TRUST_ACCOUNT),
        'dNSHostName': fqdn.lower(),
        'servicePrincipalName': ['HOST/%s' % fqdn, 'RestrictedKrbHost/%s' % fqdn, 'HOST/%s' % upper,
                                 'RestrictedKrbHost/%s' % upper],
    }
    if enctypes is not None:
        attrs['msDS-SupportedEncryptionTypes'] = str(enctypes)
    if password is not None:
        attrs['unicodePwd'] = unicode_pwd(password)
    if description:
        attrs['description'] = description
    return attrs


def computer_dn(name, ou_dn):
    """DN of the computer object of name in ou_dn (``CN=NAME,<ou_dn>``)."""
    return 'CN=%s,%s' % (escape_dn_value(name.upper()), ou_dn)


def unicode_pwd(password):
    """unicodePwd value of a password: the quoted password in UTF-16-LE (MS-ADTS 3.1.1.3.1.5.1)."""
    return ('"%s"' % password).encode('utf-16-le')


def require_protected(client):
    """ADError tls_required unless what client sends cannot be read on the wire (TLS or sealed)."""
    if not client.protected:
        raise ADError('refusing to send a password over %s: the connection to %s is neither TLS nor sealed '
                      '(encrypt is false)' % (client.transport, client.where()), 'tls_required')


def set_password(client, dn, password):
    """Administrative reset of unicodePwd (TLS or sealed connection; a pipeline of one queue_set_password)."""
    errors = []
    pipe = client.pipeline(1)
    queue_set_password(client, pipe, dn, password, errors.append)
    pipe.run()
    if errors[0] is not None:
        raise errors[0]


def queue_create_computer(client, pipe, name, ou_dn, dns_domain, password, callback, enctypes=DEFAULT_ENCTYPES,
                          description=None):
    """Queue the add of a new computer account with its password (computer_attributes) in the same request.

    ``callback(error)`` gets None or an ADError. Returns the DN.
    """
    require_protected(client)
    dn = computer_dn(name, ou_dn)

    def done(reply):
        if reply.error is not None:
            callback(lost(reply, 'creating %s' % dn))
        elif reply.code == 32:
            callback(ADError('the OU %s does not exist' % ou_dn, 'not_found', 32))
        elif reply.code != 0:
            callback(result_error(reply.code, reply.description, reply.message,
                                  'creating the computer account %s' % dn))
        else:
            callback(None)
    pipe.add(dn, computer_attributes(name, dns_domain, password, enctypes, description), done)
    return dn


def queue_set_password(client, pipe, dn, password, callback):
    """Queue an administrative reset of unicodePwd; ``callback(error)`` gets None or an ADError."""
    require_protected(client)

    def done(reply):
        if reply.error is not None:
            callback(lost(reply, 'setting the password of %s' % dn))
        elif reply.code != 0:
            callback(result_error(reply.code, reply.description, reply.message, 'setting the password of %s' % dn))
        else:
            callback(None)
    pipe.modify(dn, {'unicodePwd': [(MODIFY_REPLACE, [unicode_pwd(password)])]}, done)


def queue_find_accounts(pipe, base_dn, names, callback, first=False):
    """Queue find_accounts for up to a hundred names; ``callback(found, error)``: {NAME: Account}, ADError.

    ``first``: ahead of the requests already queued.
    """
    def done(reply):
        if reply.error is not None:
            callback({}, lost(reply, 'LDAP search at %s' % base_dn))
        elif reply.code != 0:
            callback({}, result_error(reply.code, reply.description, reply.message, 'LDAP search at %s' % base_dn))
        else:
            accounts = (account_from_entry(dn, raw) for dn, raw in reply.entries)
            callback({a.name: a for a in accounts}, None)
    pipe.search(base_dn, accounts_filter(names), ACCOUNT_ATTRS, done, first=first)
