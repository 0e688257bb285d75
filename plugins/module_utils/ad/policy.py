# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a domain publishes for new machines: GPO registry policies and root CA certificates.

* ``find_gpo``: the ``groupPolicyContainer`` under ``CN=Policies,CN=System``
  whose ``displayName`` is a given name (or whose ``cn`` is a given ``{GUID}``);
  no match or several matches is an error naming the GPO.
* ``read_sysvol_file``: a file of SYSVOL read over SMB with Samba's
  ``smbclient`` (credentials in a 0600 authentication file, or Kerberos from a
  credential cache), never written anywhere but a private temporary folder.
* ``gpo_machine_policy``: a GPO's ``Machine\\Registry.pol`` as (source, bytes)
  ready for ``_regpol.build_policy_part``.
* ``domain_ca_certificates``: the ``cACertificate`` values of the objects under
  ``CN=Certification Authorities,CN=Public Key Services,CN=Services`` of the
  configuration partition (what NETSETUP_PROVISION_ROOT_CA_CERTS carries).

``client`` is an ``ADClient`` (``client.py``) (anything with its ``search`` and
``rootdse`` methods). Errors are ``DomainPolicyError`` with the Windows code
name a runbook would look for (``error_name``) and the reason in words.
"""

from __future__ import annotations

import collections
import os
import re
import shutil

from ansible_collections.winimage.provisioning.plugins.module_utils.ad.certstore import SstError, check_der_certificate
from ansible_collections.winimage.provisioning.plugins.module_utils.common.atomic import private_temp_dir

GPO_CONTAINER = 'CN=Policies,CN=System,%s'
CA_CONTAINER = 'CN=Certification Authorities,CN=Public Key Services,CN=Services,%s'
MACHINE_REGISTRY_POL = 'Machine\\Registry.pol'
_GUID_NAME = re.compile(r'^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$')

GpoInfo = collections.namedtuple('GpoInfo', ['dn', 'guid', 'display_name', 'file_sys_path', 'flags', 'version'])

# smbclient NT_STATUS -> Windows error name
_NT_STATUS_NAMES = (
    ('NT_STATUS_OBJECT_NAME_NOT_FOUND', 'ERROR_FILE_NOT_FOUND'),
    ('NT_STATUS_OBJECT_PATH_NOT_FOUND', 'ERROR_PATH_NOT_FOUND'),
    ('NT_STATUS_NO_SUCH_FILE', 'ERROR_FILE_NOT_FOUND'),
    ('NT_STATUS_ACCESS_DENIED', 'ERROR_ACCESS_DENIED'),
    ('NT_STATUS_LOGON_FAILURE', 'ERROR_LOGON_FAILURE'),
    ('NT_STATUS_BAD_NETWORK_NAME', 'ERROR_BAD_NET_NAME'),
    ('NT_STATUS_CONNECTION_REFUSED', 'ERROR_BAD_NETPATH'),
    ('NT_STATUS_HOST_UNREACHABLE', 'ERROR_BAD_NETPATH'),
    ('NT_STATUS_IO_TIMEOUT', 'ERROR_BAD_NETPATH'),
    ('NT_STATUS_UNSUCCESSFUL', 'ERROR_BAD_NETPATH'),
)
NOT_FOUND_NAMES = ('ERROR_FILE_NOT_FOUND', 'ERROR_PATH_NOT_FOUND')


class DomainPolicyError(Exception):
    """A GPO or SYSVOL file or CA certificate could not be had; error_name is the Windows code name."""

    def __init__(self, message, error_name='ERROR_INVALID_PARAMETER'):
        super(DomainPolicyError, self).__init__(message)
        self.error_name = error_name

    @property
    def kind(self):
        """The error kind the provisioner passes on: the Windows name itself."""
        return self.error_name


def _text(value):
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    return str(value)


def _escape_filter(value):
    out = []
    for char in value:
        if char in '*()\\\x00':
            out.append('\\%02x' % ord(char))
        else:
            out.append(char)
    return ''.join(out)


def find_gpo(client, base_dn, name):
    """The one GPO named name (displayName, case-insensitive as AD compares it, or '{GUID}')."""
    if not isinstance(name, str) or not name.strip():
        raise DomainPolicyError('a GPO name must be a non-empty string', 'ERROR_INVALID_PARAMETER')
    name = name.strip()
    if _GUID_NAME.match(name):
        flt = '(&(objectClass=groupPolicyContainer)(cn=%s))' % _escape_filter(name)
    else:
        flt = '(&(objectClass=groupPolicyContainer)(displayName=%s))' % _escape_filter(name)
    entries = client.search(GPO_CONTAINER % base_dn, flt, 'subtree',
                            ['cn', 'displayName', 'gPCFileSysPath', 'flags', 'versionNumber'], allow_missing=True)
    if not entries:
        raise DomainPolicyError('no GPO named "%s" in the domain (looked for a groupPolicyContainer with that '
                                'displayName under %s)' % (name, GPO_CONTAINER % base_dn), 'ERROR_INVALID_PARAMETER')
    if len(entries) > 1:
        guids = sorted(_text(entry[1].get('cn', [b'?'])[0]) for entry in entries)
        raise DomainPolicyError('the GPO name "%s" is ambiguous: %d GPOs have it (%s); give the GUID instead'
                                % (name, len(entries), ', '.join(guids)), 'ERROR_INVALID_PARAMETER')
    dn, raw = entries[0]
    path = _text(raw['gpcfilesyspath'][0]) if raw.get('gpcfilesyspath') else None
    if not path:
        raise DomainPolicyError('the GPO "%s" (%s) has no gPCFileSysPath' % (name, dn), 'ERROR_FILE_NOT_FOUND')
    flags = int(_text(raw['flags'][0])) if raw.get('flags') else 0
    version = int(_text(raw['versionnumber'][0])) if raw.get('versionnumber') else 0
    return GpoInfo(dn=dn, guid=_text(raw['cn'][0]) if raw.get('cn') else None,
                   display_name=_text(raw['displayname'][0]) if raw.get('displayname') else name,
                   file_sys_path=path, flags=flags, version=version)


def split_unc(path):
    """(server, share, path inside the share) of a UNC path; DomainPolicyError when it is not one."""
    text = path.replace('/', '\\')
    if not text.startswith('\\\\'):
        raise DomainPolicyError('"%s" is not a UNC path (\\\\server\\share\\...)' % path, 'ERROR_BAD_NETPATH')
    parts = [part for part in text[2:].split('\\') if part]
    if len(parts) < 2:
        raise DomainPolicyError('"%s" names no share' % path, 'ERROR_BAD_NETPATH')
    return parts[0], parts[1], '\\'.join(parts[2:])


def _auth_file(folder, username, password):
    domain = None
    user = username
    if '\\' in username:
        domain, user = username.split('\\', 1)
    path = os.path.join(folder, 'auth')
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w') as handle:
        handle.write('username = %s\npassword = %s\n' % (user, password))
        if domain:
            handle.write('domain = %s\n' % domain)
    return path


def _status_name(text):
    for status, name in _NT_STATUS_NAMES:
        if status in text:
            return status, name
    return None, 'ERROR_BAD_NETPATH'


def read_sysvol_file(server, share, path, runner=None, username=None, password=None, kerberos=False, ccache=None,
                     address=None, smb_conf=None, smbclient=None, timeout=60, env=None):
    """The bytes of \\\\server\\share\\path, read with smbclient.

    runner: how to run a command, ``runner(argv, stdin_data, environ_update)
    -> (rc, stdout, stderr)`` (the provisioner's ``command_runner(module)``,
    around ``module.run_command``). server: the DC's name
    (Kerberos needs it); address: its IP when the name does not resolve here.
    Credentials: username/password (written to a 0600 authentication file in a
    private temporary folder, removed afterwards) or kerberos=True with ccache.
    env: extra environment variables for smbclient. Raises DomainPolicyError with
    ERROR_FILE_NOT_FOUND / ERROR_PATH_NOT_FOUND when the file is absent,
    ERROR_ACCESS_DENIED, ERROR_LOGON_FAILURE, ERROR_BAD_NETPATH, ... otherwise.
    """
    if runner is None:
        raise DomainPolicyError('reading SYSVOL needs a command runner (module.run_command)', 'ERROR_INVALID_PARAMETER')
    tool = smbclient or shutil.which('smbclient')
    if not tool:
        raise DomainPolicyError('reading SYSVOL needs Samba\'s smbclient (Debian/Ubuntu package smbclient, '
                                'RHEL samba-client)', 'ERROR_NOT_SUPPORTED')
    if '"' in path or '\n' in path or '"' in share:
        raise DomainPolicyError('unsupported character in the SYSVOL path %r' % path, 'ERROR_INVALID_NAME')
    # holds the SMB credentials file: a private folder that the next run removes if this one is killed
    folder = private_temp_dir('sysvol-', legacy_prefix='winimage-sysvol-')
    try:
        local = os.path.join(folder, 'file')
        command = [tool, '//%s/%s' % (server, share), '--timeout=%d' % int(timeout)]
        if address:
            command += ['-I', address]
        if smb_conf:
            command.append('--configfile=%s' % smb_conf)
        child_env = dict(env or {})
        child_env['LC_ALL'] = 'C'
        if kerberos:
            command.append('--use-kerberos=required')
            if ccache:
                child_env['KRB5CCNAME'] = ccache
        else:
            if not username or password is None:
                raise DomainPolicyError('reading SYSVOL needs a user name and password or Kerberos',
                                        'ERROR_INVALID_PARAMETER')
            command += ['-A', _auth_file(folder, username, password)]
        command += ['-c', 'get "%s" "%s"' % (path, local)]
        rc, out, err = runner(command, None, child_env)
        output = '%s\n%s' % (_text(out or ''), _text(err or ''))
        if password:
            output = output.replace(password, '********')
        if rc != 0 or not os.path.exists(local):
            status, name = _status_name(output)
            lines = [line for line in output.strip().splitlines() if line.strip()]
            reason = status or (lines[-1] if lines else 'smbclient exit %d' % rc)
            raise DomainPolicyError('reading \\\\%s\\%s\\%s over SMB failed: %s' % (server, share, path, reason),
                                    name)
        with open(local, 'rb') as handle:
            return handle.read()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def gpo_machine_policy(gpo, dc_server, missing_ok=True, **smb):
    """(source, Registry.pol bytes or None) of a GPO's machine policy, read from SYSVOL on dc_server.

    source is the UNC path of the file (what pSource carries). A GPO without
    machine registry settings has no Registry.pol: None when missing_ok, else
    DomainPolicyError(ERROR_FILE_NOT_FOUND).
    """
    share, inner = split_unc(gpo.file_sys_path)[1:]
    source = '%s\\%s' % (gpo.file_sys_path.rstrip('\\'), MACHINE_REGISTRY_POL)
    inner_path = '%s\\%s' % (inner, MACHINE_REGISTRY_POL) if inner else MACHINE_REGISTRY_POL
    try:
        return source, read_sysvol_file(dc_server, share, inner_path, **smb)
    except DomainPolicyError as exc:
        if missing_ok and exc.error_name in NOT_FOUND_NAMES:
            return source, None
        raise DomainPolicyError('GPO "%s": %s' % (gpo.display_name, exc), exc.error_name)


def domain_ca_certificates(client):
    """(DER certificates, skipped) published under CN=Certification Authorities of the configuration partition.

    Certificates are in the order of their objects' DNs (then value order),
    duplicates removed. ``skipped`` names the values that are not DER
    certificates (kept out of the package).
    """
    config = client.rootdse().get('configurationnamingcontext')
    if not config:
        raise DomainPolicyError('the DC did not name its configuration partition', 'NERR_LDAPCapableDCRequired')
    entries = client.search(CA_CONTAINER % config, '(objectClass=certificationAuthority)', 'one',
                            ['cn', 'cACertificate'], allow_missing=True)
    certificates = []
    skipped = []
    for dn, raw in sorted(entries, key=lambda item: item[0].lower()):
        for value in raw.get('cacertificate', []):
            try:
                der = check_der_certificate(bytes(value))
            except SstError as exc:
                skipped.append('%s: %s' % (dn, exc))
                continue
            if der not in certificates:
                certificates.append(der)
    return certificates, skipped


__all__ = ['DomainPolicyError', 'GpoInfo', 'find_gpo', 'split_unc', 'read_sysvol_file', 'gpo_machine_policy',
           'domain_ca_certificates', 'GPO_CONTAINER', 'CA_CONTAINER']
