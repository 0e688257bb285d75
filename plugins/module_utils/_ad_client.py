# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Active Directory client for the provisioner, over LDAPS with ldap3.

What it does, all over one authenticated LDAPS connection:

* finds a DC from DNS SRV records (dnspython) when none is given;
* binds with a simple bind (user DN, UPN or ``DOMAIN\\user``) or, when the
  ``gssapi`` Python package is installed, with Kerberos (SASL GSSAPI) from a
  credential cache or a keytab;
* asks the DC's Netlogon service through the LDAP ping (rootDSE attribute
  ``Netlogon``) for the DC flags, domain GUID, forest, DC name and site names;
* reads the domain SID and GUID and the well-known computers container;
* creates computer accounts the way Windows does (objectClass computer,
  ``NAME$``, workstation trust, dNSHostName, HOST/ and RestrictedKrbHost/ SPNs)
  with the password in the same, TLS-protected add request, resets passwords,
  and checks that a machine password authenticates (a simple bind as the
  account on a second connection).

No NTLM or Kerberos is implemented here: the encrypted channel is TLS, and
Kerberos goes through the system GSSAPI library.
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import re
import socket
import ssl
import struct
import tempfile
import uuid

from ansible_collections.winimage.provisioning.plugins.module_utils._odj_flags import DC
from ansible_collections.winimage.provisioning.plugins.module_utils._ldap_pipeline import DEFAULT_WINDOW, Pipeline

try:
    import ldap3
    from ldap3.core import exceptions as ldap3_exceptions
    from ldap3.utils.conv import escape_filter_chars
    HAS_LDAP3 = True
    LDAP3_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - reported by the module
    HAS_LDAP3 = False
    LDAP3_IMPORT_ERROR = _exc


def _import_dns():
    """dnspython, imported only when a DC has to be found (it is slow to import)."""
    try:
        import dns.exception  # pylint: disable=import-outside-toplevel
        import dns.resolver  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise ADError('finding a domain controller needs the dnspython package (or give domain_controller)',
                      'missing_library')
    return dns


# userAccountControl
UF_ACCOUNTDISABLE = 0x2
UF_PASSWD_NOTREQD = 0x20
UF_WORKSTATION_TRUST_ACCOUNT = 0x1000
UF_SERVER_TRUST_ACCOUNT = 0x2000
# msDS-SupportedEncryptionTypes Windows and Samba give a new machine: RC4, AES128, AES256
DEFAULT_ENCTYPES = 0x1C
# well-known object GUID of the computers container (GUID_COMPUTERS_CONTAINER_W)
WKGUID_COMPUTERS = 'AA312825768811D1ADED00C04FD8D5CD'
# DS_* flags DsGetDcName adds when it returns DNS names
DS_DNS_CONTROLLER_FLAG = DC['DS_DNS_CONTROLLER_FLAG']
DS_DNS_DOMAIN_FLAG = DC['DS_DNS_DOMAIN_FLAG']
DS_DNS_FOREST_FLAG = DC['DS_DNS_FOREST_FLAG']
# NtVer of the LDAP ping: NETLOGON_NT_VERSION_5 | _5EX | _WITH_CLOSEST_SITE (what Windows sends)
NETLOGON_NT_VERSION_5 = 0x2
NETLOGON_NT_VERSION_5EX = 0x4
NETLOGON_NT_VERSION_5EX_WITH_IP = 0x8
NETLOGON_NT_VERSION_WITH_CLOSEST_SITE = 0x10
DEFAULT_NT_VERSION = NETLOGON_NT_VERSION_5 | NETLOGON_NT_VERSION_5EX | NETLOGON_NT_VERSION_WITH_CLOSEST_SITE
LOGON_SAM_LOGON_RESPONSE_EX = 23
LOGON_SAM_USER_UNKNOWN_EX = 25
LOGON_SAM_PAUSE_RESPONSE_EX = 24

# LDAP result codes the client turns into named errors
_RESULT_KINDS = {
    8: 'tls_required', 13: 'tls_required', 19: 'constraint', 32: 'not_found', 34: 'invalid_dn', 49: 'bad_credentials',
    50: 'access_denied', 53: 'unwilling', 64: 'naming_violation', 68: 'exists',
}


class ADError(Exception):
    """An AD operation failed. ``kind`` names the cause for callers:

    unreachable, tls, bad_credentials, access_denied, not_found, exists,
    constraint, unwilling, kerberos, discovery, missing_library, protocol, error.
    The message never contains a password.
    """

    def __init__(self, message, kind='error', code=None):
        super(ADError, self).__init__(message)
        self.kind = kind
        self.code = code


NetlogonInfo = collections.namedtuple('NetlogonInfo', [
    'opcode', 'flags', 'domain_guid', 'forest', 'dns_domain', 'dc_dns_name', 'netbios_domain',
    'dc_netbios_name', 'user_name', 'dc_site_name', 'client_site_name', 'dc_ip', 'next_closest_site',
    'nt_version'])

DomainInfo = collections.namedtuple('DomainInfo', [
    'base_dn', 'dns_domain', 'netbios', 'forest', 'sid', 'guid', 'dc_dns_name', 'dc_address', 'dc_flags',
    'dc_site_name', 'client_site_name', 'computers_dn', 'functionality'])

Account = collections.namedtuple('Account', [
    'name', 'dn', 'sid', 'rid', 'guid', 'user_account_control', 'dns_host_name', 'spns', 'object_classes',
    'sam_account_name', 'supported_enctypes', 'description', 'operating_system', 'last_logon_timestamp',
    'last_logon', 'logon_count', 'pwd_last_set', 'when_created'])
# what shows whether a machine uses an account (odj_provision.account_in_use); absent on old callers
Account.__new__.__defaults__ = (None,) * 7

DiscoveredDC = collections.namedtuple('DiscoveredDC', ['host', 'port', 'priority', 'weight', 'addresses'])


# -- encodings ---------------------------------------------------------------
def sid_to_str(raw):
    """Binary SID -> 'S-1-5-21-...'."""
    if not isinstance(raw, (bytes, bytearray)) or len(raw) < 8:
        raise ADError('malformed SID value', 'protocol')
    count = raw[1]
    if len(raw) != 8 + 4 * count:
        raise ADError('malformed SID value (length)', 'protocol')
    authority = int.from_bytes(raw[2:8], 'big')
    subs = struct.unpack('<%dI' % count, raw[8:8 + 4 * count])
    return 'S-%d-%d%s' % (raw[0], authority, ''.join('-%d' % s for s in subs))


def guid_from_bytes(raw):
    """objectGUID (Windows byte order) -> uuid.UUID."""
    if not isinstance(raw, (bytes, bytearray)) or len(raw) != 16:
        raise ADError('malformed GUID value', 'protocol')
    return uuid.UUID(bytes_le=bytes(raw))


def dn_to_dns(dn):
    """'DC=corp,DC=example,DC=test' -> 'corp.example.test'."""
    return '.'.join(part.split('=', 1)[1] for part in dn.split(',') if part.strip().lower().startswith('dc='))


def dns_to_dn(domain):
    return ','.join('DC=%s' % part for part in domain.strip('.').split('.'))


def _escape_dn_value(value):
    out = []
    for index, char in enumerate(value):
        if char in ',+"\\<>;=#' and not (char == '#' and index > 0):
            out.append('\\' + char)
        else:
            out.append(char)
    return ''.join(out)


def _read_dns_name(data, offset):
    """RFC 1035 name with compression (MS-ADTS 6.3.1.9) -> (name, offset after it)."""
    labels = []
    end = None
    jumps = 0
    while True:
        if offset >= len(data):
            raise ADError('Netlogon response truncated in a name', 'protocol')
        length = data[offset]
        if length == 0:
            offset += 1
            break
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data):
                raise ADError('Netlogon response truncated in a name pointer', 'protocol')
            pointer = ((length & 0x3F) << 8) | data[offset + 1]
            if end is None:
                end = offset + 2
            jumps += 1
            if jumps > 32 or pointer >= len(data):
                raise ADError('Netlogon response has a bad name pointer', 'protocol')
            offset = pointer
            continue
        if length & 0xC0:
            raise ADError('Netlogon response has a bad label length', 'protocol')
        labels.append(data[offset + 1:offset + 1 + length].decode('utf-8', 'replace'))
        offset += 1 + length
    return '.'.join(labels), (end if end is not None else offset)


def parse_netlogon_response(data):
    """NETLOGON_SAM_LOGON_RESPONSE_EX (MS-ADTS 6.3.1.9) -> NetlogonInfo."""
    data = bytes(data)
    if len(data) < 24 + 8:
        raise ADError('Netlogon response too short (%d bytes)' % len(data), 'protocol')
    opcode, _sbz, flags = struct.unpack_from('<HHI', data, 0)
    if opcode not in (LOGON_SAM_LOGON_RESPONSE_EX, LOGON_SAM_USER_UNKNOWN_EX, LOGON_SAM_PAUSE_RESPONSE_EX):
        raise ADError('Netlogon response has opcode %d, not a SAM_LOGON_RESPONSE_EX' % opcode, 'protocol')
    domain_guid = uuid.UUID(bytes_le=data[8:24])
    offset = 24
    names = []
    for _index in range(8):
        name, offset = _read_dns_name(data, offset)
        names.append(name)
    forest, dns_domain, dc_dns_name, netbios_domain, dc_netbios_name, user_name, dc_site, client_site = names
    trailer = len(data) - 8
    dc_ip = None
    next_closest = None
    if offset < trailer:
        size = data[offset]
        # DcSockAddrSize (16, a SOCKADDR_IN) only when 5EX_WITH_IP was asked for
        if size == 16 and offset + 1 + 16 <= trailer:
            family, _port = struct.unpack_from('<HH', data, offset + 1)
            if family == 2:
                dc_ip = socket.inet_ntoa(data[offset + 5:offset + 9])
            offset += 17
        if offset < trailer:
            next_closest, offset = _read_dns_name(data, offset)
    nt_version, = struct.unpack_from('<I', data, trailer)
    return NetlogonInfo(opcode, flags, domain_guid, forest, dns_domain, dc_dns_name, netbios_domain,
                        dc_netbios_name, user_name, dc_site or None, client_site or None, dc_ip,
                        next_closest or None, nt_version)


# -- discovery -------------------------------------------------------------
def discover_dcs(domain, dns_servers=None, site=None, timeout=5.0):
    """DCs of domain from ``_ldap._tcp[.site._sites].dc._msdcs.<domain>`` SRV records, best first."""
    dns = _import_dns()
    resolver = dns.resolver.Resolver(configure=not dns_servers)
    if dns_servers:
        resolver.nameservers = list(dns_servers)
    resolver.lifetime = timeout
    resolver.timeout = timeout
    names = []
    if site:
        names.append('_ldap._tcp.%s._sites.dc._msdcs.%s' % (site, domain))
    names.append('_ldap._tcp.dc._msdcs.%s' % domain)
    errors = []
    for name in names:
        try:
            answer = resolver.resolve(name, 'SRV', tcp=False)
        except (dns.exception.DNSException, OSError) as exc:
            errors.append('%s: %s' % (name, exc.__class__.__name__))
            continue
        found = []
        for record in sorted(answer, key=lambda r: (r.priority, -r.weight)):
            host = record.target.to_text().rstrip('.')
            addresses = []
            try:
                for rr in resolver.resolve(host, 'A'):
                    addresses.append(rr.to_text())
            except (dns.exception.DNSException, OSError):
                pass
            found.append(DiscoveredDC(host, record.port, record.priority, record.weight, addresses))
        if found:
            return found
    raise ADError('no domain controller found for %s in DNS (%s); give domain_controller or check DNS'
                  % (domain, '; '.join(errors) or 'no SRV records'), 'discovery')


# -- client ----------------------------------------------------------------
class ADClient(object):
    """One authenticated LDAPS connection to one DC.

    server: DC name or address. auth: 'simple' (username + password) or
    'kerberos' (ccache and/or keytab + principal; needs the gssapi package).
    """

    def __init__(self, server, username=None, password=None, auth='simple', port=636, use_ssl=True,
                 validate_certs=True, ca_cert=None, timeout=10, ccache=None, keytab=None, principal=None,
                 server_name=None, run_command=None):
        if not HAS_LDAP3:
            raise ADError('the ldap3 Python package is required: %s' % LDAP3_IMPORT_ERROR, 'missing_library')
        self.server = server
        self.server_name = server_name or server
        self.port = port
        self.use_ssl = use_ssl
        self.username = username
        self._password = password
        self.auth = auth
        self.validate_certs = validate_certs
        self.ca_cert = ca_cert
        self.timeout = timeout
        self.ccache = ccache
        self.keytab = keytab
        self.principal = principal
        # run_command(argv, data=bytes, env=dict) -> (rc, stdout, stderr): runs kinit (the module passes
        # AnsibleModule.run_command); without it Kerberos keytabs and Kerberos password checks are unavailable
        self.run_command = run_command
        self.conn = None
        self.peer_address = None
        self._verify_conn = None
        self._rootdse = None
        self._tmpdir = None

    # -- connection ----------------------------------------------------
    def _server(self):
        tls = None
        if self.use_ssl:
            if self.validate_certs:
                valid_names = [self.server_name] if self.server_name else None
                tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=self.ca_cert, valid_names=valid_names)
            else:
                tls = ldap3.Tls(validate=ssl.CERT_NONE)
        return ldap3.Server(self.server, port=self.port, use_ssl=self.use_ssl, tls=tls, get_info=ldap3.NONE,
                            connect_timeout=self.timeout)

    def _where(self):
        return '%s:%d' % (self.server, self.port)

    def connect(self):
        """Open and bind; raises ADError (unreachable, tls, bad_credentials, kerberos, ...)."""
        server = self._server()
        kwargs = dict(check_names=False, raise_exceptions=False, auto_referrals=False, receive_timeout=self.timeout,
                      return_empty_attributes=False, read_only=False)
        if self.auth == 'kerberos':
            self._prepare_kerberos()
            kwargs.update(authentication=ldap3.SASL, sasl_mechanism=ldap3.KERBEROS)
            if self.principal:
                kwargs['user'] = self.principal
            if self.server_name and self.server_name != self.server:
                kwargs['sasl_credentials'] = (self.server_name, None, None)
        else:
            if not self.username or self._password is None:
                raise ADError('a user name and password are needed for a simple bind', 'bad_credentials')
            kwargs.update(user=self.username, password=self._password, authentication=ldap3.SIMPLE)
        conn = ldap3.Connection(server, **kwargs)
        self._open(conn)
        saved = os.environ.get('KRB5CCNAME')
        if self.auth == 'kerberos' and self.ccache:
            # GSSAPI takes the credential cache from the environment; only for the bind
            os.environ['KRB5CCNAME'] = self.ccache
        try:
            ok = conn.bind()
        except ldap3_exceptions.LDAPException as exc:
            conn.unbind()
            raise self._bind_exception(exc)
        except Exception as exc:  # gssapi.exceptions.GSSError and friends  # pylint: disable=broad-except
            conn.unbind()
            if self.auth != 'kerberos':
                raise
            raise self._bind_exception(exc)
        finally:
            if self.auth == 'kerberos' and self.ccache:
                if saved is None:
                    os.environ.pop('KRB5CCNAME', None)
                else:
                    os.environ['KRB5CCNAME'] = saved
        if not ok:
            result = conn.result or {}
            conn.unbind()
            code = result.get('result')
            if code == 49:
                raise ADError('the DC %s refused the credentials of %s (invalid user name or password)'
                              % (self._where(), self.username or self.principal or 'the Kerberos ticket'),
                              'bad_credentials', code)
            if code in (8, 13):
                raise ADError('the DC %s requires a protected connection for this bind (use LDAPS)' % self._where(),
                              'tls_required', code)
            detail = '%s %s' % (result.get('description'), _clean(result.get('message')))
            raise ADError('bind to %s failed: %s' % (self._where(), detail), 'bad_credentials', code)
        self.conn = conn
        try:
            self.peer_address = conn.socket.getpeername()[0]
        except (OSError, AttributeError, IndexError):
            self.peer_address = None
        return self

    def _open(self, conn):
        try:
            conn.open()
        except ldap3_exceptions.LDAPSocketOpenError as exc:
            text = str(exc)
            if 'certificate' in text.lower() or 'ssl' in text.lower():
                raise ADError('TLS with the DC %s failed (%s); give ca_cert or set validate_certs=false for a test DC'
                              % (self._where(), _clean(text)), 'tls')
            raise ADError('cannot reach the DC %s: %s' % (self._where(), _clean(text)), 'unreachable')
        except ldap3_exceptions.LDAPException as exc:
            raise ADError('cannot reach the DC %s: %s' % (self._where(), _clean(str(exc))), 'unreachable')

    def _bind_exception(self, exc):
        text = _clean(str(exc))
        if self.auth == 'kerberos':
            return ADError('Kerberos (GSSAPI) bind to %s failed: %s' % (self._where(), text), 'kerberos')
        return ADError('bind to %s failed: %s' % (self._where(), text), 'unreachable')

    def _prepare_kerberos(self):
        try:
            import gssapi  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
        except ImportError:
            raise ADError('Kerberos authentication needs the gssapi Python package (pip install gssapi); '
                          'use domain_username/domain_password otherwise', 'missing_library')
        if self.keytab:
            if not os.path.isfile(self.keytab):
                raise ADError('keytab %s does not exist' % self.keytab, 'kerberos')
            if not self.principal:
                raise ADError('a principal is needed with a keytab', 'kerberos')
            if not self.ccache:
                self._tmpdir = self._tmpdir or tempfile.mkdtemp(prefix='odj-krb5-')
                self.ccache = 'FILE:%s' % os.path.join(self._tmpdir, 'ccache')
            if self.run_command is None or not _kinit_path():
                raise ADError('a keytab needs the kinit command (krb5 user tools)', 'kerberos')
            rc, _out, err = self.run_command([_kinit_path(), '-k', '-t', self.keytab, '-c', self.ccache, self.principal],
                                             None, {})
            if rc != 0:
                raise ADError('kinit with keytab %s for %s failed: %s' % (self.keytab, self.principal, _clean(err)),
                              'kerberos')

    def close(self):
        for conn in (self._verify_conn, self.conn):
            if conn is not None:
                try:
                    conn.unbind()
                except Exception:  # pylint: disable=broad-except
                    pass
        self._verify_conn = None
        self.conn = None
        if self._tmpdir:
            for name in os.listdir(self._tmpdir):
                os.unlink(os.path.join(self._tmpdir, name))
            os.rmdir(self._tmpdir)
            self._tmpdir = None

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()

    # -- primitives ----------------------------------------------------
    def _check(self, ok, what, allow=()):
        result = self.conn.result or {}
        code = result.get('result')
        if ok or code in allow:
            return code
        raise _result_error(code, result.get('description'), result.get('message'), what)

    def search(self, base, flt, scope='subtree', attributes=None, allow_missing=False):
        """Return a list of (dn, raw_attributes) entries (bytes values)."""
        scopes = {'base': ldap3.BASE, 'one': ldap3.LEVEL, 'subtree': ldap3.SUBTREE}
        try:
            ok = self.conn.search(base, flt, search_scope=scopes[scope], attributes=attributes or [],
                                  paged_size=None)
        except ldap3_exceptions.LDAPException as exc:
            raise ADError('LDAP search at %s failed: %s' % (base or 'rootDSE', _clean(str(exc))), 'unreachable')
        code = self._check(ok, 'LDAP search at %s' % (base or 'rootDSE'), allow=(0, 32) if allow_missing else (0,))
        if code == 32:
            return []
        entries = []
        for item in self.conn.response or []:
            if item.get('type') != 'searchResEntry':
                continue
            raw = {k.lower(): v for k, v in item.get('raw_attributes', {}).items()}
            entries.append((item.get('dn'), raw))
        return entries

    def rootdse(self):
        if self._rootdse is None:
            attrs = ['defaultNamingContext', 'rootDomainNamingContext', 'configurationNamingContext',
                     'dnsHostName', 'domainFunctionality', 'forestFunctionality', 'serverName', 'isSynchronized']
            entries = self.search('', '(objectClass=*)', 'base', attrs)
            if not entries:
                raise ADError('the DC returned no rootDSE', 'protocol')
            self._rootdse = {k: _text(v[0]) for k, v in entries[0][1].items() if v}
        return self._rootdse

    def netlogon_ping(self, dns_domain, nt_version=DEFAULT_NT_VERSION, domain_guid=None):
        """The LDAP ping (MS-ADTS 6.3.3): rootDSE search for Netlogon -> NetlogonInfo."""
        parts = ['(DnsDomain=%s)' % escape_filter_chars(dns_domain)]
        if domain_guid is not None:
            parts.append('(DomainGuid=%s)' % _escape_bytes(domain_guid.bytes_le))
        parts.append('(NtVer=%s)' % _escape_bytes(struct.pack('<I', nt_version)))
        entries = self.search('', '(&%s)' % ''.join(parts), 'base', ['Netlogon'])
        if not entries or not entries[0][1].get('netlogon'):
            raise ADError('the DC %s did not answer the Netlogon LDAP ping for %s (is it a DC of that domain?)'
                          % (self._where(), dns_domain), 'not_found')
        return parse_netlogon_response(entries[0][1]['netlogon'][0])

    def domain_info(self, dns_domain):
        """Everything the package needs about the domain and this DC."""
        rootdse = self.rootdse()
        base_dn = rootdse.get('defaultnamingcontext')
        if not base_dn:
            raise ADError('the DC has no defaultNamingContext', 'protocol')
        if dn_to_dns(base_dn).lower() != dns_domain.lower().rstrip('.'):
            raise ADError('the DC %s serves the domain %s, not %s' % (self._where(), dn_to_dns(base_dn), dns_domain),
                          'not_found')
        ping = self.netlogon_ping(dns_domain)
        entries = self.search(base_dn, '(objectClass=*)', 'base', ['objectSid', 'objectGUID', 'wellKnownObjects'])
        if not entries:
            raise ADError('cannot read the domain object %s' % base_dn, 'not_found')
        raw = entries[0][1]
        sid = sid_to_str(raw['objectsid'][0])
        guid = guid_from_bytes(raw['objectguid'][0])
        computers = None
        for value in raw.get('wellknownobjects', []):
            text = _text(value)
            match = re.match(r'B:32:([0-9A-Fa-f]{32}):(.*)$', text)
            if match and match.group(1).upper() == WKGUID_COMPUTERS:
                computers = match.group(2)
        if not computers:
            computers = 'CN=Computers,%s' % base_dn
        flags = ping.flags
        if ping.dc_dns_name:
            flags |= DS_DNS_CONTROLLER_FLAG
        if ping.dns_domain:
            flags |= DS_DNS_DOMAIN_FLAG
        if ping.forest:
            flags |= DS_DNS_FOREST_FLAG
        address = self.peer_address or self.server
        return DomainInfo(base_dn=base_dn, dns_domain=ping.dns_domain or dns_domain.lower(),
                          netbios=ping.netbios_domain, forest=ping.forest or dn_to_dns(rootdse.get(
                              'rootdomainnamingcontext', base_dn)),
                          sid=sid, guid=guid, dc_dns_name=ping.dc_dns_name or rootdse.get('dnshostname'),
                          dc_address=address, dc_flags=flags, dc_site_name=ping.dc_site_name,
                          client_site_name=ping.client_site_name, computers_dn=computers,
                          functionality=rootdse.get('domainfunctionality'))

    def exists(self, dn):
        return bool(self.search(dn, '(objectClass=*)', 'base', ['objectClass'], allow_missing=True))

    _ACCOUNT_ATTRS = ['objectSid', 'objectGUID', 'userAccountControl', 'dNSHostName', 'servicePrincipalName',
                      'objectClass', 'sAMAccountName', 'msDS-SupportedEncryptionTypes',
                      'description', 'operatingSystem', 'lastLogonTimestamp', 'lastLogon', 'logonCount', 'pwdLastSet',
                      'whenCreated']

    def _account(self, dn, raw):
        sid = sid_to_str(raw['objectsid'][0]) if raw.get('objectsid') else None
        sam = _text(raw['samaccountname'][0]) if raw.get('samaccountname') else None
        return Account(
            name=(sam or '').rstrip('$').upper(), dn=dn, sid=sid, rid=int(sid.rsplit('-', 1)[1]) if sid else None,
            guid=guid_from_bytes(raw['objectguid'][0]) if raw.get('objectguid') else None,
            user_account_control=int(_text(raw['useraccountcontrol'][0])) if raw.get('useraccountcontrol') else None,
            dns_host_name=_text(raw['dnshostname'][0]) if raw.get('dnshostname') else None,
            spns=sorted(_text(v) for v in raw.get('serviceprincipalname', [])),
            object_classes=[_text(v) for v in raw.get('objectclass', [])], sam_account_name=sam,
            supported_enctypes=(int(_text(raw['msds-supportedencryptiontypes'][0]))
                                if raw.get('msds-supportedencryptiontypes') else None),
            description=_text(raw['description'][0]) if raw.get('description') else None,
            operating_system=_text(raw['operatingsystem'][0]) if raw.get('operatingsystem') else None,
            last_logon_timestamp=_int(raw.get('lastlogontimestamp')), last_logon=_int(raw.get('lastlogon')),
            logon_count=_int(raw.get('logoncount')), pwd_last_set=_int(raw.get('pwdlastset')),
            when_created=_text(raw['whencreated'][0]) if raw.get('whencreated') else None)

    def find_accounts(self, base_dn, names, chunk=100):
        """{NAME: Account} for the accounts named NAME$ (any object class) under base_dn."""
        found = {}
        names = list(names)
        for start in range(0, len(names), chunk):
            part = names[start:start + chunk]
            for dn, raw in self.search(base_dn, _accounts_filter(part), 'subtree', self._ACCOUNT_ATTRS):
                account = self._account(dn, raw)
                found[account.name] = account
        return found

    @staticmethod
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
            attrs['unicodePwd'] = _unicode_pwd(password)
        if description:
            attrs['description'] = description
        return attrs

    def computer_dn(self, name, ou_dn):
        return 'CN=%s,%s' % (_escape_dn_value(name.upper()), ou_dn)

    def set_password(self, dn, password):
        """Administrative reset of unicodePwd over the TLS connection (a pipeline of one queue_set_password)."""
        errors = []
        pipe = self.pipeline(1)
        self.queue_set_password(pipe, dn, password, errors.append)
        pipe.run()
        if errors[0] is not None:
            raise errors[0]

    # -- pipelined batch operations (several requests in flight on this connection) --
    def pipeline(self, window=DEFAULT_WINDOW):
        """A Pipeline on this connection; queue requests with the ``queue_*`` methods, then ``run()`` it."""
        return Pipeline(self.conn, window)

    def queue_create_computer(self, pipe, name, ou_dn, dns_domain, password, callback, enctypes=DEFAULT_ENCTYPES,
                              description=None):
        """Queue the add of a new computer account with its password (computer_attributes) in the same request.

        ``callback(error)`` gets None or an ADError. Returns the DN.
        """
        if not self.use_ssl:
            raise ADError('refusing to send a password over a connection without TLS', 'tls_required')
        dn = self.computer_dn(name, ou_dn)

        def done(reply):
            if reply.error is not None:
                callback(_lost(reply, 'creating %s' % dn))
            elif reply.code == 32:
                callback(ADError('the OU %s does not exist' % ou_dn, 'not_found', 32))
            elif reply.code != 0:
                callback(_result_error(reply.code, reply.description, reply.message,
                                       'creating the computer account %s' % dn))
            else:
                callback(None)
        pipe.add(dn, self.computer_attributes(name, dns_domain, password, enctypes, description), done)
        return dn

    def queue_set_password(self, pipe, dn, password, callback):
        """Queue an administrative reset of unicodePwd; ``callback(error)`` gets None or an ADError."""
        if not self.use_ssl:
            raise ADError('refusing to send a password over a connection without TLS', 'tls_required')

        def done(reply):
            if reply.error is not None:
                callback(_lost(reply, 'setting the password of %s' % dn))
            elif reply.code != 0:
                callback(_result_error(reply.code, reply.description, reply.message, 'setting the password of %s' % dn))
            else:
                callback(None)
        pipe.modify(dn, {'unicodePwd': [(ldap3.MODIFY_REPLACE, [_unicode_pwd(password)])]}, done)

    def queue_find_accounts(self, pipe, base_dn, names, callback, first=False):
        """Queue find_accounts for up to a hundred names; ``callback(found, error)``: {NAME: Account}, ADError.

        ``first``: ahead of the requests already queued.
        """
        def done(reply):
            if reply.error is not None:
                callback({}, _lost(reply, 'LDAP search at %s' % base_dn))
            elif reply.code != 0:
                callback({}, _result_error(reply.code, reply.description, reply.message, 'LDAP search at %s' % base_dn))
            else:
                accounts = (self._account(dn, raw) for dn, raw in reply.entries)
                callback({a.name: a for a in accounts}, None)
        pipe.search(base_dn, _accounts_filter(names), self._ACCOUNT_ATTRS, done, first=first)

    def verify_password(self, account_dn, password, sam_account_name=None, realm=None, kdc=None):
        """True when password is the account's current password.

        With the krb5 tools (``kinit``) present and a realm given: a Kerberos
        AS exchange as ``sam_account_name@realm`` against kdc (default: this DC),
        which only the current password passes. Otherwise a simple bind as
        account_dn on a second LDAPS connection; note that a DC accepts the
        previous password of an account there for a while after a reset (NTLM's
        old-password period), so this fallback can call a just-replaced password
        valid.
        """
        if sam_account_name and realm and self.run_command is not None and _kinit_path():
            return self._verify_kerberos(sam_account_name, realm, kdc or self.peer_address or self.server, password)
        return self._verify_bind(account_dn, password)

    def verify_passwords(self, checks, workers=8):
        """verify_password for many accounts: a list of True, False or ADError, in the order of checks.

        checks: (account_dn, password, sam_account_name, realm) tuples. The Kerberos
        exchanges are independent, so up to ``workers`` run at once; the LDAP-bind
        fallback has one connection and runs them one by one.
        """
        def one(check):
            try:
                return self.verify_password(*check)
            except ADError as exc:
                return exc
        checks = list(checks)
        kerberos = self.run_command is not None and _kinit_path()
        if not kerberos or len(checks) < 2 or workers < 2:
            return [one(check) for check in checks]
        for _dn, _password, sam, realm in checks:
            if sam and realm:
                self._krb5_conf(realm.upper(), self.peer_address or self.server)  # made once, before the threads
                break
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, checks))

    def _krb5_conf(self, realm, kdc):
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix='odj-krb5-')
        path = os.path.join(self._tmpdir, 'verify-krb5.conf')
        content = ('[libdefaults]\n\tdefault_realm = {r}\n\tdns_lookup_kdc = false\n\tdns_lookup_realm = false\n'
                   '\trdns = false\n\tudp_preference_limit = 1\n[realms]\n\t{r} = {{\n\t\tkdc = {k}\n\t}}\n'
                   .format(r=realm, k=kdc))
        if not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, 'w') as handle:
                handle.write(content)
        return path

    def _verify_kerberos(self, sam_account_name, realm, kdc, password):
        env = {'KRB5_CONFIG': self._krb5_conf(realm.upper(), kdc), 'LC_ALL': 'C', 'KRB5CCNAME': 'MEMORY:odj-verify'}
        principal = '%s@%s' % (sam_account_name, realm.upper())
        rc, _out, error = self.run_command([_kinit_path(), '-c', 'MEMORY:odj-verify', principal],
                                           (password + '\n').encode('utf-8'), env)
        if rc == 0:
            return True
        if any(text in error for text in ('Password incorrect', 'Preauthentication failed', 'not found in Kerberos',
                                          'Client\'s credentials have been revoked', 'Password has expired')):
            return False
        raise ADError('checking the password of %s with the KDC %s failed: %s' % (principal, kdc, _clean(error)),
                      'kerberos')

    def _verify_bind(self, account_dn, password):
        if not self.use_ssl:
            raise ADError('refusing to send a password over a connection without TLS', 'tls_required')
        if self._verify_conn is None:
            conn = ldap3.Connection(self._server(), check_names=False, raise_exceptions=False,
                                    receive_timeout=self.timeout, authentication=ldap3.SIMPLE,
                                    user=account_dn, password=password)
            self._open(conn)
            self._verify_conn = conn
            try:
                ok = conn.bind()
            except ldap3_exceptions.LDAPException as exc:
                raise ADError('checking a machine password failed: %s' % _clean(str(exc)), 'unreachable')
        else:
            try:
                ok = self._verify_conn.rebind(user=account_dn, password=password,
                                              authentication=ldap3.SIMPLE)
            except ldap3_exceptions.LDAPBindError:
                ok = False
            except ldap3_exceptions.LDAPException as exc:
                self._verify_conn = None
                raise ADError('checking a machine password failed: %s' % _clean(str(exc)), 'unreachable')
        if not ok:
            code = (self._verify_conn.result or {}).get('result') if self._verify_conn is not None else None
            if code not in (49, None):
                # a broken connection: start afresh next time
                self._verify_conn = None
        return bool(ok)


def _kinit_path():
    for directory in os.environ.get('PATH', '').split(os.pathsep) + ['/usr/bin', '/usr/local/bin']:
        candidate = os.path.join(directory, 'kinit')
        if directory and os.access(candidate, os.X_OK):
            return candidate
    return None


def _accounts_filter(names):
    """LDAP filter for the accounts NAME$ of names."""
    return '(|%s)' % ''.join('(sAMAccountName=%s$)' % escape_filter_chars(n) for n in names)


def _result_error(code, description, message, what):
    """ADError for an LDAP result code other than success."""
    kind = _RESULT_KINDS.get(code, 'error')
    text = '%s failed: %s (%s)' % (what, description, _clean(message))
    if kind == 'access_denied':
        text = '%s failed: access denied; the account lacks the right (%s)' % (what, _clean(message))
    return ADError(text, kind, code)


def _lost(reply, what):
    """ADError for a request the DC never answered (the connection failed)."""
    if reply.sent:
        return ADError('%s: the connection to the DC failed before it answered (%s); the change may or may not '
                       'have been made' % (what, _clean(reply.error)), 'unreachable')
    return ADError('%s: not attempted, the connection to the DC failed (%s)' % (what, _clean(reply.error)),
                   'not_attempted')


def _unicode_pwd(password):
    return ('"%s"' % password).encode('utf-16-le')


def _escape_bytes(data):
    return ''.join('\\%02x' % b for b in data)


def _int(values):
    """First value of an integer attribute (None when absent)."""
    return int(_text(values[0])) if values else None


def _text(value):
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    return str(value)


def _clean(text):
    """Single-line, bounded error text (LDAP diagnostics never carry the password)."""
    if not text:
        return ''
    return ' '.join(str(text).split())[:300]
