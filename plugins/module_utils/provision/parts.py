# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What makes the Linux provisioner behave like ``NetCreateProvisioningPackage``.

* ``provision_flags``: module options -> ``NETSETUP_PROVISION_*`` bits, one to one;
* ``error_for``: the Windows name and number (``_netapi_errors``) of a failure,
  from the provisioner's or AD client's error kind and words;
* ``check_dc_role``: a package needs a writable DC of the domain
  (ERROR_INVALID_DOMAIN_ROLE otherwise);
* ``PartSources``: the extra package parts -- machine policies from local
  Registry.pol files and from GPOs (SYSVOL over SMB), the domain's root CA
  certificates, the persistent site (join provider 2) -- gathered once per run
  and handed to every machine's package (``Provisioner(part_builders=...)``);
* ``log_machines``: one NetSetup log line per machine.
"""

from __future__ import annotations

from ansible_collections.winimage.provisioning.plugins.module_utils.ad.certstore import root_ca_cert_part
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.policy import (
    DomainPolicyError, domain_ca_certificates, find_gpo, gpo_machine_policy)
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.quota import (
    QUOTA_ERROR_NAME, is_quota_error)
from ansible_collections.winimage.provisioning.plugins.module_utils.common.netapi_errors import BY_NAME
from ansible_collections.winimage.provisioning.plugins.module_utils.common.netsetup_log import log_operation
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.flags import (  # provision_flags: API
    DC, OPTION_FLAGS, provision_flags,
)

DS_WRITABLE_FLAG = DC['DS_WRITABLE_FLAG']
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import (
    PART_JOINPROV2, JoinProv2Part, PackagePart)
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.regpol import (
    RegPolError, build_policy_part, parse, read_file)

OPSPI_PERSISTENT_SITE = 0x1


# error kinds (ProvisionError / ADError / machine status) -> Windows names
KIND_NAMES = {
    'options': 'ERROR_INVALID_PARAMETER',
    'invalid': 'ERROR_INVALID_PARAMETER',
    'conflict': 'NERR_UserExists',
    'exists': 'NERR_UserExists',
    'unreachable': 'ERROR_NO_SUCH_DOMAIN',
    'discovery': 'ERROR_NO_SUCH_DOMAIN',
    'bad_credentials': 'ERROR_LOGON_FAILURE',
    'kerberos': 'ERROR_LOGON_FAILURE',
    'access_denied': 'ERROR_ACCESS_DENIED',
    'tls': 'NERR_ConnectionInsecure',
    'tls_required': 'NERR_ConnectionInsecure',
    'protocol': 'NERR_LDAPCapableDCRequired',
    'dc_role': 'ERROR_INVALID_DOMAIN_ROLE',
    'ou_missing': 'ERROR_DS_NO_SUCH_OBJECT',
    'not_found': 'ERROR_DS_NO_SUCH_OBJECT',
    'quota': QUOTA_ERROR_NAME,
    'missing_library': 'ERROR_NOT_SUPPORTED',
    'not_supported': 'ERROR_NOT_SUPPORTED',
    'policy': 'ERROR_INVALID_PARAMETER',
    'unwilling': 'ERROR_ACCESS_DENIED',
    'constraint': 'ERROR_INVALID_PARAMETER',
}
# words in a message that decide the name whatever the kind
_WORDS = (
    ('serves the domain', 'ERROR_INVALID_DOMAIN_ROLE'),
    ('did not answer the netlogon ldap ping', 'ERROR_INVALID_DOMAIN_ROLE'),
    ('is read-only', 'ERROR_INVALID_DOMAIN_ROLE'),
    ('has no defaultnamingcontext', 'NERR_LDAPCapableDCRequired'),
    ('returned no rootdse', 'NERR_LDAPCapableDCRequired'),
    ('does not speak ldap', 'NERR_LDAPCapableDCRequired'),
    ('access denied', 'ERROR_ACCESS_DENIED'),
    ('insufficient access', 'ERROR_ACCESS_DENIED'),
)


def error_for(kind=None, message=None, name=None):
    """(name, code) of a failure; a name the message starts with, then its words, then the kind."""
    if name is None and message:
        head = message.split(' ', 1)[0].rstrip(':')
        if head in BY_NAME:
            name = head
    if name is None and message and is_quota_error(message):
        name = QUOTA_ERROR_NAME
    if name is None and message and message.startswith(QUOTA_ERROR_NAME):
        name = QUOTA_ERROR_NAME
    if name is None and message:
        lowered = message.lower()
        for words, candidate in _WORDS:
            if words in lowered:
                name = candidate
                break
    if name is None:
        name = kind if kind in BY_NAME else KIND_NAMES.get(kind)
    if name is None:
        return None, None
    err = BY_NAME.get(name)
    return name, (err.code if err else None)


def with_name(message, kind=None, name=None):
    """message prefixed with ``NAME (code): `` unless it already starts with the name."""
    name, code = error_for(kind, message, name)
    if name is None or (message or '').startswith(name):
        return message
    return '%s (%d): %s' % (name, code, message) if code is not None else '%s: %s' % (name, message)


class DcRoleError(Exception):
    """The DC cannot make packages for the domain (ERROR_INVALID_DOMAIN_ROLE)."""

    kind = 'dc_role'


def writable_dc_problem(domain_info, dns_domain):
    """Why the DC of domain_info cannot make packages for dns_domain (ERROR_INVALID_DOMAIN_ROLE text), or None."""
    if (domain_info.dns_domain or '').lower().rstrip('.') != dns_domain.lower().rstrip('.'):
        return ('ERROR_INVALID_DOMAIN_ROLE (1354): the DC %s is a DC of %s, not of %s'
                % (domain_info.dc_dns_name, domain_info.dns_domain, dns_domain))
    if not (domain_info.dc_flags or 0) & DS_WRITABLE_FLAG:
        return ('ERROR_INVALID_DOMAIN_ROLE (1354): the DC %s is read-only (no DS_WRITABLE_FLAG in its LDAP ping '
                'answer): provisioning needs a writable DC; give another domain_server' % domain_info.dc_dns_name)
    return None


def check_dc_role(domain_info, dns_domain):
    """Raise DcRoleError unless domain_info comes from a writable DC of dns_domain."""
    problem = writable_dc_problem(domain_info, dns_domain)
    if problem:
        raise DcRoleError(problem)


class PartSources(object):
    """The extra parts every package of a run carries; ``gather`` once, then ``builder`` per machine.

    policy_paths: local Registry.pol files; policy_names: GPO display names
    (or {GUID}s); root_ca_certs: NETSETUP_PROVISION_ROOT_CA_CERTS;
    persistent_site: a join provider 2 part with OPSPI_PERSISTENT_SITE and the
    client site. smb: keyword arguments for ``_domain_policy.read_sysvol_file``
    (credentials, address, smb_conf).
    """

    def __init__(self, policy_paths=(), policy_names=(), root_ca_certs=False, persistent_site=False, smb=None):
        self.policy_paths = list(policy_paths or [])
        self.policy_names = list(policy_names or [])
        self.root_ca_certs = root_ca_certs
        self.persistent_site = persistent_site
        self.smb = dict(smb or {})
        self.parts = []
        self.facts = {'policy_sources': [], 'ca_certificates': 0, 'warnings': []}
        self._site = None
        self._domain = None
        self._local = None

    def check_local(self):
        """Read and parse the local policy files (before anything touches the domain)."""
        self._local = []
        for path in self.policy_paths:
            self._local.append((path, read_file(path)))
        return self._local

    def gather(self, client, domain_info):
        """Everything that needs the domain: GPOs over LDAP + SMB, CA certificates over LDAP.

        Raises DomainPolicyError / RegPolError with the Windows name and the GPO or file named.
        """
        sources = list(self._local if self._local is not None else self.check_local())
        for name in self.policy_names:
            gpo = find_gpo(client, domain_info.base_dn, name)
            source, data = gpo_machine_policy(gpo, domain_info.dc_dns_name, **self.smb)
            if data is None:
                self.facts['warnings'].append('GPO "%s" has no machine registry settings (no %s); its element list '
                                              'is empty' % (gpo.display_name, source))
                sources.append((source, []))
                continue
            try:
                sources.append((source, parse(data, source='GPO "%s" (%s)' % (gpo.display_name, source))))
            except RegPolError as exc:
                raise DomainPolicyError(str(exc), 'ERROR_INVALID_DATA')
        self.parts = []
        if sources:
            self.parts.append(build_policy_part(sources))
            self.facts['policy_sources'] = [item[0] for item in sources]
        if self.root_ca_certs:
            certificates, skipped = domain_ca_certificates(client)
            self.facts['warnings'].extend('CA certificate skipped: %s' % text for text in skipped)
            if certificates:
                self.parts.append(root_ca_cert_part(certificates))
            else:
                self.facts['warnings'].append('provision_root_ca_certs: the domain publishes no CA certificate '
                                              'under CN=Certification Authorities; no certificate part added')
            self.facts['ca_certificates'] = len(certificates)
        if self.persistent_site:
            self._site = domain_info.client_site_name or domain_info.dc_site_name
            self._domain = domain_info.dns_domain
        return self

    def builder(self, context):
        """part_builders entry: the gathered parts (+ this machine's join provider 2 part)."""
        parts = []
        if self.persistent_site:
            parts.append(PackagePart(part_type=PART_JOINPROV2, flags=0, payload=JoinProv2Part(
                flags=OPSPI_PERSISTENT_SITE, netbios_name=context['name'], site_name=self._site,
                primary_dns_domain=self._domain, reserved=0, reserved_str=None)))
        return parts + list(self.parts)


def log_machines(log, machines, asked, operation='provision'):
    """One NetSetup log line per machine result dict; returns the warnings of the log writer."""
    warnings = []
    for item in machines:
        error = item.get('error') or {}
        status = error.get('code') or 0
        line_asked = dict((key, value) for key, value in asked.items() if key != 'machines')
        line_asked['machine'] = item.get('name')
        done = '%s: %s' % (item.get('status'), item.get('msg') or '')
        if item.get('path'):
            done += ' [%s]' % item['path']
        warning = log_operation(log, operation, line_asked, done, status)
        if warning and warning not in warnings:
            warnings.append(warning)
    return warnings


__all__ = ['provision_flags', 'error_for', 'with_name', 'check_dc_role', 'writable_dc_problem', 'DcRoleError', 'PartSources',
           'log_machines', 'OPTION_FLAGS', 'KIND_NAMES']
