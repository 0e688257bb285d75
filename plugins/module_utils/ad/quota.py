# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ms-DS-MachineAccountQuota for callers who are not domain admins.

Windows lets a user who is not an administrator create at most
``ms-DS-MachineAccountQuota`` computer accounts (default 10, an attribute of
the domain object); the DC refuses the next one with
ERROR_DS_MACHINE_ACCOUNT_QUOTA_EXCEEDED (8557, 0x216D). Samba DCs do not
enforce the quota, so the provisioner applies it itself, the same way:

* the caller's token (rootDSE ``tokenGroups``: the SIDs of the bound user and
  its groups) decides whether the quota applies: it does not for members of
  Domain Admins, Enterprise Admins, Administrators or Account Operators;
* the accounts the caller made so far are the computer objects whose
  ``mS-DS-CreatorSID`` (set by Windows) or owner (set by Samba and Windows to
  the creating non-admin) is the caller's SID;
* every account created in the run counts; the one that would exceed the quota
  is refused with a message naming the quota.

A DC's own refusal (LDAP error text with ``0000216D``) is recognised too
(``is_quota_error``).
"""

from __future__ import annotations

import struct

from ansible_collections.winimage.provisioning.plugins.module_utils.common.sid import sid_from_bytes, sid_to_bytes

try:
    from ldap3.protocol.microsoft import security_descriptor_control
    HAS_LDAP3 = True
except ImportError:  # pragma: no cover - the provisioner reports the missing library
    HAS_LDAP3 = False

QUOTA_ERROR_NAME = 'ERROR_DS_MACHINE_ACCOUNT_QUOTA_EXCEEDED'
QUOTA_WIN32 = 0x216D
DEFAULT_QUOTA = 10
# RIDs of domain groups and builtin SIDs exempt from the quota
EXEMPT_DOMAIN_RIDS = (512, 518, 519)  # Domain Admins, Schema Admins, Enterprise Admins
EXEMPT_BUILTIN = ('S-1-5-32-544', 'S-1-5-32-548')  # Administrators, Account Operators
OWNER_SECURITY_INFORMATION = 0x1


class QuotaExceeded(Exception):
    """Creating one more account would exceed the caller's machine account quota."""

    error_name = QUOTA_ERROR_NAME


def owner_of(descriptor):
    """The owner SID of a self-relative SECURITY_DESCRIPTOR, or None."""
    descriptor = bytes(descriptor or b'')
    if len(descriptor) < 20:
        return None
    offset = struct.unpack_from('<I', descriptor, 4)[0]
    if not offset or offset + 8 > len(descriptor):
        return None
    return sid_from_bytes(descriptor[offset:])


def _escape_bytes(data):
    return ''.join('\\%02x' % b for b in data)


def is_quota_error(text):
    """True when a DC's error message is the machine account quota (0000216D)."""
    return '0000216D' in (text or '').upper()


class MachineQuota(object):
    """The caller's quota state over one ADClient connection (``prepare`` once, ``check``/``record`` per account)."""

    def __init__(self, client, base_dn, domain_sid):
        self.client = client
        self.base_dn = base_dn
        self.domain_sid = domain_sid
        self.caller_sid = None
        self.applies = False
        self.quota = None
        self.used = 0
        self.created_now = 0

    def prepare(self):
        entries = self.client.search('', '(objectClass=*)', 'base', ['tokenGroups'])
        token = [sid_from_bytes(v) for v in (entries[0][1].get('tokengroups', []) if entries else [])]
        exempt = set(EXEMPT_BUILTIN) | set('%s-%d' % (self.domain_sid, rid) for rid in EXEMPT_DOMAIN_RIDS)
        if not token or exempt.intersection(token):
            self.applies = False
            return self
        self.caller_sid = self._caller(token)
        if self.caller_sid is None:
            self.applies = False
            return self
        domain = self.client.search(self.base_dn, '(objectClass=*)', 'base', ['ms-DS-MachineAccountQuota'])
        raw = domain[0][1].get('ms-ds-machineaccountquota') if domain else None
        self.quota = int(raw[0]) if raw else DEFAULT_QUOTA
        self.used = self._count_created()
        self.applies = True
        return self

    def _caller(self, token):
        """The user SID of the token: the one that is a user object (not a group)."""
        domain_sids = [s for s in token if s.startswith(self.domain_sid + '-')]
        if not domain_sids:
            return None
        alternatives = ''.join('(objectSid=%s)' % _escape_bytes(sid_to_bytes(s)) for s in domain_sids)
        flt = '(&(objectClass=user)(|%s))' % alternatives
        for _dn, raw in self.client.search(self.base_dn, flt, 'subtree', ['objectSid']):
            if raw.get('objectsid'):
                return sid_from_bytes(raw['objectsid'][0])
        return None

    def _count_created(self):
        seen = set()
        for dn, raw in self.client.search(
                self.base_dn, '(objectCategory=computer)', 'subtree', ['nTSecurityDescriptor', 'mS-DS-CreatorSID'],
                controls=security_descriptor_control(sdflags=OWNER_SECURITY_INFORMATION), page_size=500):
            creator = raw.get('ms-ds-creatorsid')
            owner = owner_of(raw['ntsecuritydescriptor'][0]) if raw.get('ntsecuritydescriptor') else None
            if (creator and sid_from_bytes(creator[0]) == self.caller_sid) or owner == self.caller_sid:
                seen.add(dn.lower())
        return len(seen)

    @property
    def remaining(self):
        if not self.applies:
            return None
        return max(self.quota - self.used, 0)

    def check(self, name):
        """Raise QuotaExceeded when creating the account name would go over the quota."""
        if self.applies and self.used >= self.quota:
            raise QuotaExceeded(
                '%s: creating %s$ would exceed the machine account quota of the caller: ms-DS-MachineAccountQuota '
                'is %d and the caller (%s, not a domain admin) has created %d computer accounts already (%d in '
                'this run); ask an admin to create it, delegate "Create Computer objects" to the account, or raise '
                'the quota' % (QUOTA_ERROR_NAME, name, self.quota, self.caller_sid, self.used, self.created_now))

    def record(self):
        """One account was created by the caller."""
        if self.applies:
            self.used += 1
            self.created_now += 1

    def release(self):
        """An account recorded (reserved) was not created after all."""
        if self.applies and self.created_now:
            self.used -= 1
            self.created_now -= 1

    def facts(self):
        return {'applies': self.applies, 'quota': self.quota, 'used': self.used if self.applies else None,
                'remaining': self.remaining, 'created_in_this_run': self.created_now}


__all__ = ['MachineQuota', 'QuotaExceeded', 'is_quota_error', 'owner_of', 'QUOTA_ERROR_NAME']
