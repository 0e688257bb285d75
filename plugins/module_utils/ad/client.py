# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Active Directory client for the provisioner: one authenticated LDAP connection to one DC.

What it does, all over one connection (``_ldap_pipeline.Wire``):

* finds a DC from DNS SRV records (dnspython) when none is given;
* chooses the transport (``tls_mode``): LDAPS (636), StartTLS on 389, or plain
  389 with a SASL security layer; ``auto`` takes LDAPS or StartTLS when the
  DC's certificate validates, else sealed SASL;
* binds with SASL GSS-SPNEGO through pyspnego (Kerberos from a password, a
  credential cache or a keytab; NTLM inside SPNEGO when Kerberos is not
  possible), with tls-server-end-point channel binding inside TLS and
  signing + sealing outside it; or, only inside TLS, with a simple bind;
* asks the DC's Netlogon service through the LDAP ping (rootDSE attribute
  ``Netlogon``) for the DC flags, domain GUID, forest, DC name and site names;
* reads the domain SID and GUID and the well-known computers container;
* creates computer accounts the way Windows does (objectClass computer,
  ``NAME$``, workstation trust, dNSHostName, HOST/ and RestrictedKrbHost/ SPNs)
  with the password in the same add request (only over TLS or a sealed
  layer), resets passwords, and checks that a machine password authenticates
  (``verify_secret``: a Kerberos AS exchange first).

No NTLM or Kerberos is implemented here: pyspnego (and through it the system
GSSAPI library) does both; ldap3 encodes and decodes the LDAP messages.
"""

from __future__ import annotations

import collections
import concurrent.futures
import ipaddress
import os
import re
import socket
import ssl
import struct
import tempfile
import threading
import uuid

from ansible_collections.winimage.provisioning.plugins.module_utils.common.options import env
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.flags import DC
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.pipeline import (
    DEFAULT_WINDOW, SASL_BIND_IN_PROGRESS, Pipeline, Wire)

try:
    import ldap3
    from ldap3.protocol.rfc2696 import paged_search_control
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


# -- connection options ------------------------------------------------------
TLS_MODES = ('auto', 'ldaps', 'start_tls', 'none')
AUTH_PROTOCOLS = ('negotiate', 'kerberos', 'ntlm', 'simple')
CERT_VALIDATIONS = ('always', 'ignore', 'ignore_hostname')
LDAPS_PORTS = (636, 3269)
# SASL mechanism of every non-simple bind: SPNEGO carries Kerberos or NTLM and, on a plain connection,
# negotiates signing and sealing without the RFC 4752 layer exchange (MS-ADTS 5.1.1.1.2)
SASL_MECHANISM = 'GSS-SPNEGO'


def qualify_user(username, domain):
    """A bare user name -> 'name@DOMAIN' (as ``net -U`` and Windows take it); UPN, DOMAIN\\name, DNs unchanged."""
    if not username or not domain or '@' in username or '\\' in username or '=' in username:
        return username
    return '%s@%s' % (username, domain.upper().rstrip('.'))


def _end_point_binding(der):
    """RFC 5929 tls-server-end-point channel binding of a server certificate (MS-ADTS: what AD checks)."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes  # pylint: disable=import-outside-toplevel
    cert = x509.load_der_x509_certificate(der)
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:  # pylint: disable=broad-except  # unsupported algorithm (Ed25519 has none)
        algorithm = None
    if algorithm is None or algorithm.name in ('md5', 'sha1'):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(der)
    return b'tls-server-end-point:' + digest.finalize()


def certificate_names(der):
    """(DNS names, IP addresses, subject CN) a certificate is valid for, and its issuer (text)."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import NameOID  # pylint: disable=import-outside-toplevel
    cert = x509.load_der_x509_certificate(der)
    dns_names, addresses = [], []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = [str(v) for v in san.get_values_for_type(x509.DNSName)]
        addresses = [str(v) for v in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    common = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return dns_names, addresses, common, cert.issuer.rfc4514_string(), cert.subject == cert.issuer


def name_matches(asked, dns_names, addresses, common):
    """RFC 6125 matching of the name or address asked for (one left-most wildcard label)."""
    try:
        ip = ipaddress.ip_address(asked)
    except ValueError:
        ip = None
    if ip is not None:
        return any(_same_ip(ip, a) for a in addresses)
    asked = asked.lower().rstrip('.')
    for pattern in (dns_names or common):
        pattern = pattern.lower().rstrip('.')
        if pattern == asked:
            return True
        if pattern.startswith('*.') and '.' in asked and asked.split('.', 1)[1] == pattern[2:]:
            return True
    return False


def _same_ip(ip, text):
    try:
        return ipaddress.ip_address(text) == ip
    except ValueError:
        return False


PAGED_RESULTS_OID = '1.2.840.113556.1.4.319'


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class _Layer(object):
    """The SASL security layer of a bound GSS context: seal (or only sign) and unseal each buffer."""

    def __init__(self, context, encrypt):
        self.context = context
        self.encrypt = encrypt

    def wrap(self, data, encrypt=True):
        return self.context.wrap(data, encrypt=self.encrypt and encrypt)

    def unwrap(self, data):
        return self.context.unwrap(data)


class _TLSRefused(Exception):
    """TLS is not possible with this DC: ``certificate`` True when the DC's certificate did not validate."""

    def __init__(self, error, certificate=False, no_listener=False):
        super(_TLSRefused, self).__init__(str(error))
        self.error = error
        self.certificate = certificate
        self.no_listener = no_listener


# -- client ----------------------------------------------------------------
class ADClient(object):
    """One authenticated LDAP connection to one DC (see ``Wire`` for the framing).

    server: DC name or address; server_name: the name to check its certificate and
    ask Kerberos for (default server). Options as the modules document them:
    auth_protocol (negotiate, kerberos, ntlm, simple), tls_mode (auto, ldaps,
    start_tls, none), cert_validation (always, ignore, ignore_hostname), encrypt,
    port, ca_cert, ccache, keytab. ``domain``: qualifies a bare user name.
    ``auth``/``validate_certs``/``principal``/``use_ssl`` are the old names.

    After ``connect()``: ``transport`` (ldaps, start_tls, sasl), ``auth_used``
    (kerberos, ntlm, simple), ``sealed`` and ``notes`` (why a transport was skipped).
    """

    def __init__(self, server, username=None, password=None, auth_protocol='negotiate', tls_mode='auto', port=None,
                 cert_validation='always', ca_cert=None, encrypt=True, timeout=10, ccache=None, keytab=None,
                 server_name=None, domain=None, run_command=None, auth=None, validate_certs=None, principal=None,
                 use_ssl=None):
        if not HAS_LDAP3:
            raise ADError('the ldap3 Python package is required: %s' % LDAP3_IMPORT_ERROR, 'missing_library')
        if auth == 'kerberos':
            auth_protocol = 'kerberos'
        elif auth == 'simple':
            auth_protocol = 'simple'
        if validate_certs is False:
            cert_validation = 'ignore'
        if use_ssl is True and tls_mode == 'auto':
            tls_mode = 'ldaps'
        self.server = server
        self.server_name = server_name or server
        self.port = port
        self.tls_mode = tls_mode
        self.auth_protocol = auth_protocol
        self.cert_validation = cert_validation
        self.encrypt = encrypt
        self.domain = domain
        self.username = qualify_user(username or principal, domain)
        self._password = password
        self.ca_cert = ca_cert
        self.timeout = timeout
        self.ccache = ccache
        self.keytab = keytab
        # run_command(argv, data=bytes, env=dict) -> (rc, stdout, stderr): runs kinit (the module passes
        # AnsibleModule.run_command); without it Kerberos keytabs and Kerberos password checks are unavailable
        self.run_command = run_command
        self.conn = None
        self.port_used = None
        self.peer_address = None
        self.transport = None
        self.auth_used = None
        self.sealed = False
        self.notes = []
        self._rootdse = None
        self._tmpdir = None
        self._addresses = None

    @property
    def use_ssl(self):
        """True when the connection is TLS (LDAPS or StartTLS)."""
        return self.transport in ('ldaps', 'start_tls')

    @property
    def protected(self):
        """True when what is sent cannot be read on the wire: TLS, or a sealed SASL layer."""
        return self.use_ssl or self.sealed

    def connection_facts(self):
        """The result's ``connection``: transport, auth, server, port."""
        return dict(transport=self.transport, auth=self.auth_used, server=self.server, port=self.port_used,
                    sealed=self.sealed)

    # -- connection ----------------------------------------------------
    def _where(self, port=None):
        return '%s:%d' % (self.server, port or self.port_used or self.port or 389)

    def _ports(self):
        """(LDAPS port, port of the 389 transports) from tls_mode and port."""
        if self.tls_mode == 'ldaps':
            return self.port or 636, None
        if self.tls_mode == 'auto':
            if self.port in LDAPS_PORTS:
                return self.port, 389
            return 636, self.port or 389
        return None, self.port or 389

    def _resolve(self):
        if self._addresses is None:
            try:
                infos = socket.getaddrinfo(self.server, None, 0, socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise ADError('the DC name %s does not resolve (%s); check the name or DNS, or give the DC\'s '
                              'address' % (self.server, exc.strerror or exc), 'unreachable')
            self._addresses = [info[4][0] for info in infos]
        return self._addresses

    def _socket(self, port):
        """A TCP connection to the DC on port (refused/unreachable -> ADError unreachable)."""
        errors = []
        for address in self._resolve():
            try:
                return socket.create_connection((address, port), timeout=self.timeout)
            except OSError as exc:
                errors.append('%s: %s' % (address, exc.strerror or exc))
        raise ADError('cannot reach the DC %s (%s)' % (self._where(port), '; '.join(errors)), 'unreachable')

    def _tls_context(self):
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        context.check_hostname = False  # the names are checked below, for an error that lists them
        if self.cert_validation == 'ignore':
            context.verify_mode = ssl.CERT_NONE
        else:
            context.verify_mode = ssl.CERT_REQUIRED
            if self.ca_cert:
                try:
                    context.load_verify_locations(cafile=self.ca_cert)
                except (OSError, ssl.SSLError) as exc:
                    raise ADError('ca_cert %s cannot be read as PEM CA certificates (%s)' % (self.ca_cert, exc),
                                  'tls')
        return context

    def _check_certificate(self, sock, port):
        """Name check (cert_validation always): the certificate must name server_name."""
        der = sock.getpeercert(binary_form=True)
        if self.cert_validation != 'always':
            return der
        dns_names, addresses, common, _issuer, _self_signed = certificate_names(der)
        if not name_matches(self.server_name, dns_names, addresses, common):
            listed = ', '.join(dns_names + addresses) or ('CN=%s' % ', '.join(common) if common else 'no name')
            raise _TLSRefused(ADError(
                'TLS to %s: the DC\'s certificate is for %s, not for %s (the %s asked for); connect by a name the '
                'certificate holds' % (self._where(port), listed, self.server_name,
                                       'address' if _is_ip(self.server_name) else 'name'), 'tls'), True)
        return der

    def _verify_failure(self, exc, port, wrap):
        """ADError for a certificate that did not validate: who signed it, which CAs were trusted."""
        der = None
        try:
            probe = ssl.create_default_context()
            probe.check_hostname = False
            probe.verify_mode = ssl.CERT_NONE
            with wrap(probe) as sock:
                der = sock.getpeercert(binary_form=True)
        except (OSError, ssl.SSLError, ADError):
            pass
        trusted = 'the CA file ca_cert %s' % self.ca_cert if self.ca_cert else \
            'the system\'s trusted CAs (give ca_cert with the CA that signs it)'
        reason = getattr(exc, 'verify_message', None) or _clean(str(exc))
        if der is not None:
            _dns, _ips, common, issuer, self_signed = certificate_names(der)
            subject = 'CN=%s' % common[0] if common else 'the certificate'
            if self_signed:
                what = 'is self-signed (%s) and not in %s' % (subject, trusted)
            else:
                what = '(%s) is issued by %s, which is not in %s' % (subject, issuer, trusted)
            if getattr(exc, 'verify_code', None) == 10:
                what = '(%s) has expired' % subject
            text = 'TLS to %s: the DC\'s certificate %s' % (self._where(port), what)
        else:
            text = 'TLS to %s: the DC\'s certificate does not validate (%s); trusted: %s' % (
                self._where(port), reason, trusted)
        return ADError(text, 'tls')

    def _open_ldaps(self, port):
        context = self._tls_context()

        def wrap(ctx):
            return ctx.wrap_socket(self._socket(port), server_hostname=None if _is_ip(self.server_name)
                                   else self.server_name)
        try:
            sock = wrap(context)
        except ssl.SSLCertVerificationError as exc:
            raise _TLSRefused(self._verify_failure(exc, port, wrap), True)
        except (ssl.SSLError, ConnectionResetError) as exc:
            raise _TLSRefused(ADError('TLS to %s failed: %s' % (self._where(port), _clean(str(exc))), 'tls'))
        except socket.timeout:
            raise _TLSRefused(ADError('the DC %s did not answer the TLS handshake within %s s'
                                      % (self._where(port), self.timeout), 'unreachable'))
        except ADError as exc:
            if exc.kind == 'unreachable' and 'does not resolve' not in str(exc):
                raise _TLSRefused(exc, no_listener='refused' in str(exc))
            raise
        try:
            der = self._check_certificate(sock, port)
        except _TLSRefused:
            sock.close()
            raise
        wire = Wire(sock, self.timeout)
        wire.tls = True
        return wire, der

    def _open_start_tls(self, port):
        wire = Wire(self._socket(port), self.timeout)
        context = self._tls_context()
        hostname = None if _is_ip(self.server_name) else self.server_name
        try:
            refused = wire.start_tls(context, hostname)
        except ssl.SSLCertVerificationError as exc:
            wire.close()

            def wrap(ctx):
                again = Wire(self._socket(port), self.timeout)
                if again.start_tls(ctx, hostname) is not None:
                    raise ADError('StartTLS refused', 'tls')
                return again.sock
            raise _TLSRefused(self._verify_failure(exc, port, wrap), True)
        except (ssl.SSLError, OSError) as exc:
            wire.close()
            raise _TLSRefused(ADError('StartTLS with %s failed: %s' % (self._where(port), _clean(str(exc))), 'tls'))
        if refused is not None:
            wire.close()
            raise _TLSRefused(ADError('the DC %s offers no StartTLS (%s %s)' % (
                self._where(port), refused.get('description'), _clean(refused.get('message'))), 'tls'))
        try:
            der = self._check_certificate(wire.sock, port)
        except _TLSRefused:
            wire.close()
            raise
        return wire, der

    def connect(self):
        """Open, choose the transport (tls_mode) and bind; raises ADError (unreachable, tls, bad_credentials, ...)."""
        if self.tls_mode not in TLS_MODES:
            raise ADError('tls_mode must be one of %s, not %s' % (', '.join(TLS_MODES), self.tls_mode), 'options')
        if self.auth_protocol not in AUTH_PROTOCOLS:
            raise ADError('auth_protocol must be one of %s, not %s' % (', '.join(AUTH_PROTOCOLS), self.auth_protocol),
                          'options')
        if self.auth_protocol == 'simple' and self.tls_mode == 'none':
            raise ADError('auth_protocol=simple with tls_mode=none would send the password readable on the wire; '
                          'a simple bind is only made inside TLS (use tls_mode auto, ldaps or start_tls, or '
                          'auth_protocol negotiate for a sealed SASL bind)', 'options')
        if self.auth_protocol == 'simple' and (not self.username or self._password is None):
            raise ADError('auth_protocol=simple needs domain_username and domain_password', 'bad_credentials')
        if self.auth_protocol != 'simple':
            self._prepare_kerberos()
        self._resolve()
        ldaps_port, plain_port = self._ports()
        attempts = []
        if ldaps_port:
            attempts.append(('ldaps', ldaps_port))
        if self.tls_mode in ('auto', 'start_tls'):
            attempts.append(('start_tls', plain_port))
        if self.tls_mode in ('auto', 'none'):
            attempts.append(('sasl', plain_port))
        refused = []
        certificate_failed = no_listener = False
        for transport, port in attempts:
            if transport == 'sasl' and self.auth_protocol == 'simple':
                break
            if transport == 'start_tls' and self.tls_mode == 'auto' and (certificate_failed or no_listener):
                # the same certificate would fail the same way; a DC with no LDAPS listener has no certificate
                # (and Samba without TLS leaves a StartTLS request unanswered)
                continue
            der = None
            try:
                if transport == 'ldaps':
                    wire, der = self._open_ldaps(port)
                elif transport == 'start_tls':
                    wire, der = self._open_start_tls(port)
                else:
                    wire = Wire(self._socket(port), self.timeout)
            except _TLSRefused as exc:
                if self.tls_mode != 'auto':
                    raise exc.error
                certificate_failed = certificate_failed or exc.certificate
                no_listener = no_listener or exc.no_listener
                refused.append(exc.error)
                continue
            self.conn = wire
            self.transport = transport
            self.port_used = port
            try:
                self._bind(der)
            except BaseException:
                self.conn.close()
                self.conn = None
                raise
            try:
                self.peer_address = wire.sock.getpeername()[0]
            except (OSError, AttributeError, IndexError):
                self.peer_address = None
            if transport == 'sasl' and refused:
                self.notes.append('no TLS with the DC (%s); the connection is %s SASL on port %d instead'
                                  % ('; '.join(str(e) for e in refused), 'sealed' if self.sealed else 'signed', port))
            return self
        if refused:
            if self.auth_protocol == 'simple':
                raise ADError('%s; auth_protocol=simple is only used inside TLS (a simple bind on a plain '
                              'connection would send the password readable; auth_protocol negotiate binds with '
                              'sealed SASL instead)' % '; '.join(str(e) for e in refused), refused[0].kind)
            raise refused[-1]
        raise ADError('no transport to try with the DC %s' % self.server, 'options')

    # -- binds -----------------------------------------------------------
    def _bind(self, der):
        if self.auth_protocol == 'simple':
            self._bind_simple()
        else:
            self._bind_sasl(der)

    def _bind_simple(self):
        password = self._password
        if isinstance(password, str):
            # as is: SASLprep would refuse the random UTF-16 text of machine passwords; the DC takes UTF-8
            password = password.encode('utf-8', 'surrogatepass')
        try:
            response = self.conn.bind_simple(self.username, password)
        except OSError as exc:
            raise ADError('bind to %s failed: %s' % (self._where(), _clean(str(exc))), 'unreachable')
        code = response.get('result')
        if code == 0:
            self.auth_used = 'simple'
            return
        if code == 49:
            raise ADError('the DC %s refused the credentials of %s (invalid user name or password)'
                          % (self._where(), self.username), 'bad_credentials', code)
        if code in (8, 13):
            raise ADError('the DC %s refuses a simple bind: it requires signing (LDAP server signing '
                          'requirements / ldap server require strong auth); use auth_protocol negotiate, '
                          'kerberos or ntlm (%s)' % (self._where(), _clean(response.get('message'))),
                          'tls_required', code)
        raise ADError('bind to %s failed: %s %s' % (self._where(), response.get('description'),
                                                    _clean(response.get('message'))), 'bad_credentials', code)

    def _spnego_context(self, der, protocol):
        """A pyspnego client context for protocol (kerberos or ntlm) on this connection."""
        try:
            import spnego  # pylint: disable=import-outside-toplevel
            from spnego.channel_bindings import GssChannelBindings  # pylint: disable=import-outside-toplevel
        except ImportError as exc:
            raise ADError('Kerberos and NTLM binds need the pyspnego Python package (%s)' % exc, 'missing_library')
        if self.conn.tls:
            # AD refuses SASL signing inside TLS; TLS protects the session, channel binding ties the bind to it
            context_req = spnego.ContextReq.mutual_auth | spnego.ContextReq.no_integrity
        else:
            context_req = (spnego.ContextReq.mutual_auth | spnego.ContextReq.integrity |
                           spnego.ContextReq.replay_detect | spnego.ContextReq.sequence_detect)
            if self.encrypt:
                context_req |= spnego.ContextReq.confidentiality
        bindings = GssChannelBindings(application_data=_end_point_binding(der)) if der else None
        password = self._password
        if isinstance(password, bytes):
            password = password.decode('utf-8', 'surrogatepass')
        credential = self.username
        if password is None and self.ccache:
            credential = spnego.KerberosCCache(ccache=self.ccache, principal=self.username)
        context = spnego.client(credential, password, hostname=self.server_name, service='ldap',
                                channel_bindings=bindings, context_req=context_req, protocol=protocol)
        if protocol == 'ntlm' and self.conn.tls:
            # Without signing there is no session key to exchange; pyspnego would still send a 1-byte
            # EncryptedRandomSessionKey, which Samba refuses (Windows ignores it). Ask for no key exchange.
            from spnego._ntlm_raw.messages import NegotiateFlags  # pylint: disable=import-outside-toplevel
            context._context_req &= ~NegotiateFlags.key_exch  # pylint: disable=protected-access
        return context

    def _protocols(self):
        if self.auth_protocol == 'negotiate':
            # Kerberos when a ticket for ldap/<server_name> can be had, else NTLM (what SPNEGO would pick)
            return ['ntlm'] if _is_ip(self.server_name) else ['kerberos', 'ntlm']
        return [self.auth_protocol]

    def _bind_sasl(self, der):
        try:
            import spnego.exceptions as spnego_errors  # pylint: disable=import-outside-toplevel
        except ImportError as exc:
            raise ADError('Kerberos and NTLM binds need the pyspnego Python package (%s)' % exc, 'missing_library')
        protocols = self._protocols()
        local_errors = []
        for protocol in protocols:
            try:
                context = self._spnego_context(der, protocol)
                token = context.step()
            except ADError:
                raise
            except Exception as exc:  # pylint: disable=broad-except  # SpnegoError, krb5/gssapi errors, ImportError
                # nothing sent yet: Kerberos not possible here (no ticket, no KDC for the realm, no GSSAPI library)
                local_errors.append((protocol, exc))
                continue
            try:
                while True:
                    response = self.conn.bind_sasl(SASL_MECHANISM, token)
                    code = response.get('result')
                    server_token = response.get('saslCreds')
                    if code not in (0, SASL_BIND_IN_PROGRESS):
                        raise self._sasl_refused(response, protocol)
                    if server_token and not context.complete:
                        token = context.step(server_token)
                    elif not context.complete:
                        raise ADError('the DC %s ended the SASL bind before the %s exchange completed'
                                      % (self._where(), protocol), 'protocol')
                    if code == 0:
                        break
            except spnego_errors.SpnegoError as exc:
                raise self._spnego_failure(exc, protocol)
            except OSError as exc:
                raise ADError('bind to %s failed: %s' % (self._where(), _clean(str(exc))), 'unreachable')
            self.auth_used = protocol
            if not self.conn.tls:
                self.conn.security = _Layer(context, self.encrypt)
                self.sealed = bool(self.encrypt)
            return
        raise self._spnego_failure(local_errors[-1][1], local_errors[-1][0], local_errors[:-1])

    def _sasl_refused(self, response, protocol):
        code = response.get('result')
        message = _clean(response.get('message'))
        who = self.username or 'the Kerberos ticket'
        name = 'NTLM' if protocol == 'ntlm' else 'Kerberos'
        if code == 49:
            return ADError('the DC %s refused the %s credentials of %s (invalid user name or password, or the account '
                           'is disabled or locked: %s)' % (self._where(), name, who, message), 'bad_credentials', code)
        if code in (8, 13):
            return ADError('the DC %s requires a stronger bind (%s)' % (self._where(), message), 'tls_required', code)
        return ADError('SASL %s bind to %s failed: %s (%s)' % (name, self._where(), response.get('description'),
                                                               message), 'bad_credentials', code)

    def _spnego_failure(self, exc, protocol, earlier=()):
        text = _clean(getattr(exc, 'message', None) or str(exc))
        before = ''.join('; Kerberos was not possible first: %s' % _clean(getattr(e, 'message', None) or str(e))
                         for p, e in earlier if p == 'kerberos')
        if protocol == 'kerberos':
            where = ('from the credential cache %s' % self.ccache) if self.ccache else (
                'for %s' % self.username if self.username else 'from the default credential cache (KRB5CCNAME)')
            return ADError('Kerberos authentication to %s (service ldap/%s) failed %s: %s'
                           % (self._where(), self.server_name, where, text), 'kerberos')
        return ADError('NTLM authentication to %s as %s failed: %s%s' % (self._where(), self.username, text, before),
                       'bad_credentials')

    def _prepare_kerberos(self):
        if self._password is None and self.auth_protocol == 'negotiate':
            self.auth_protocol = 'kerberos'  # no password: a ticket is the only credential
        if self.auth_protocol == 'ntlm' and self._password is None:
            raise ADError('auth_protocol=ntlm needs domain_username and domain_password', 'bad_credentials')
        if self._password is not None or not self.keytab:
            return
        if not os.path.isfile(self.keytab):
            raise ADError('keytab %s does not exist' % self.keytab, 'kerberos')
        if not self.username:
            raise ADError('a principal (domain_username) is needed with a keytab', 'kerberos')
        if not self.ccache:
            self._tmpdir = self._tmpdir or tempfile.mkdtemp(prefix='odj-krb5-')
            self.ccache = 'FILE:%s' % os.path.join(self._tmpdir, 'ccache')
        if self.run_command is None or not _kinit_path():
            raise ADError('a keytab needs the kinit command (krb5 user tools)', 'kerberos')
        rc, _out, err = self.run_command([_kinit_path(), '-k', '-t', self.keytab, '-c', self.ccache, self.username],
                                         None, {})
        if rc != 0:
            raise ADError('kinit with keytab %s for %s failed: %s' % (self.keytab, self.username, _clean(err)),
                          'kerberos')

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # pylint: disable=broad-except
                pass
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
    def search(self, base, flt, scope='subtree', attributes=None, allow_missing=False, controls=None,
               page_size=None):
        """Return a list of (dn, raw_attributes) entries (bytes values); page_size: paged results (RFC 2696)."""
        entries = []
        cookie = None
        while True:
            pipe = self.pipeline(1)
            replies = []
            page = list(controls or [])
            if page_size:
                page.append(paged_search_control(False, page_size, cookie))
            pipe.search(base, flt, attributes or [], replies.append, scope=scope, controls=page or None)
            pipe.run()
            reply = replies[0]
            what = 'LDAP search at %s' % (base or 'rootDSE')
            if reply.error is not None:
                raise ADError('%s failed: %s' % (what, _clean(reply.error)), 'unreachable')
            if reply.code == 32 and allow_missing:
                return []
            if reply.code != 0:
                raise _result_error(reply.code, reply.description, reply.message, what)
            entries.extend(reply.entries)
            cookie = ((reply.controls or {}).get(PAGED_RESULTS_OID) or {}).get('value', {}).get('cookie')
            if not page_size or not cookie:
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
        """Administrative reset of unicodePwd (TLS or sealed connection; a pipeline of one queue_set_password)."""
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

    def _require_protected(self):
        if not self.protected:
            raise ADError('refusing to send a password over %s: the connection to %s is neither TLS nor sealed '
                          '(encrypt is false)' % (self.transport, self._where()), 'tls_required')

    def queue_create_computer(self, pipe, name, ou_dn, dns_domain, password, callback, enctypes=DEFAULT_ENCTYPES,
                              description=None):
        """Queue the add of a new computer account with its password (computer_attributes) in the same request.

        ``callback(error)`` gets None or an ADError. Returns the DN.
        """
        self._require_protected()
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
        self._require_protected()

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
        """True when password is the account's current password (``verify_secret``, Kerberos first).

        account_dn is kept for callers; the check is by sAMAccountName and realm.
        """
        del account_dn
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix='odj-krb5-')
        ok, _how = verify_secret(sam_account_name, password, realm or self.domain, kdc or self.peer_address or
                                 self.server, run_command=self.run_command, workdir=self._tmpdir,
                                 ldap=self.account_options())
        return ok

    def account_options(self):
        """ADClient keyword arguments to bind as another account over the same kind of connection."""
        return dict(server=self.peer_address or self.server, server_name=self.server_name, port=self.port,
                    tls_mode=self.tls_mode, cert_validation=self.cert_validation, ca_cert=self.ca_cert,
                    encrypt=self.encrypt, timeout=self.timeout, domain=self.domain,
                    auth_protocol='ntlm' if self.auth_protocol != 'simple' else 'simple')

    def verify_passwords(self, checks, workers=8):
        """verify_password for many accounts: a list of True, False or ADError, in the order of checks.

        checks: (account_dn, password, sam_account_name, realm) tuples. The Kerberos
        exchanges are independent, so up to ``workers`` run at once.
        """
        def one(check):
            try:
                return self.verify_password(*check)
            except ADError as exc:
                return exc
        checks = list(checks)
        if len(checks) < 2 or workers < 2:
            return [one(check) for check in checks]
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix='odj-krb5-')
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, checks))


# -- does a secret authenticate? --------------------------------------------
def verify_secret(sam_account_name, password, realm, kdc, run_command=None, workdir=None, ldap=None):
    """Does password authenticate as sam_account_name (``NAME$``) of realm? -> (bool, how).

    The one check of odj_provision (the password of an existing package) and
    odj_verify_secret (the secret in an image). Kerberos first: an AS exchange
    (``kinit``) as ``NAME$@REALM`` against kdc, which only the account's current
    password passes (``how`` = 'kerberos'). Only when the krb5 tools (or
    run_command) are missing, an LDAP bind as the account with ``ldap`` (ADClient
    keyword arguments: server and connection options; NTLM over sealed SASL or
    TLS, never a readable password): ``how`` = 'ldap_bind'. A DC accepts the
    previous password there for up to an hour after a reset (NTLM's
    old-password lifetime), so that fallback can call a just-replaced password
    valid. Raises ADError when it cannot tell (KDC unreachable, ...).
    """
    if not sam_account_name or not realm:
        raise ADError('a password check needs the account name and the realm', 'options')
    if run_command is not None and _kinit_path():
        own = workdir is None
        directory = workdir or tempfile.mkdtemp(prefix='odj-krb5-')
        try:
            return _kinit_check(sam_account_name, password, realm.upper(), kdc, run_command, directory), 'kerberos'
        finally:
            if own:
                for name in os.listdir(directory):
                    os.unlink(os.path.join(directory, name))
                os.rmdir(directory)
    if ldap is None:
        raise ADError('checking the password of %s needs kinit (krb5 user tools) or an LDAP connection'
                      % sam_account_name, 'missing_library')
    options = dict(ldap)
    server = options.pop('server')
    for name in ('username', 'password', 'ccache', 'keytab', 'run_command'):
        options.pop(name, None)
    options['auth_protocol'] = 'simple' if options.get('auth_protocol') == 'simple' else 'ntlm'
    client = ADClient(server, username='%s@%s' % (sam_account_name, realm.upper()), password=password, **options)
    try:
        client.connect()
        return True, 'ldap_bind'
    except ADError as exc:
        if exc.kind == 'bad_credentials':
            return False, 'ldap_bind'
        raise
    finally:
        client.close()


def _krb5_conf(directory, realm, kdc):
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


def _kinit_check(sam_account_name, password, realm, kdc, run_command, directory):
    env = {'KRB5_CONFIG': _krb5_conf(directory, realm, kdc), 'LC_ALL': 'C', 'KRB5CCNAME': 'MEMORY:odj-verify'}
    principal = '%s@%s' % (sam_account_name, realm)
    rc, _out, error = run_command([_kinit_path(), '-c', 'MEMORY:odj-verify', principal],
                                  (password + '\n').encode('utf-8', 'surrogatepass'), env)
    if rc == 0:
        return True
    if isinstance(error, bytes):
        error = error.decode('utf-8', 'replace')
    if any(text in error for text in ('Password incorrect', 'Preauthentication failed', 'not found in Kerberos',
                                      'Client\'s credentials have been revoked', 'Password has expired')):
        return False
    raise ADError('checking the password of %s with the KDC %s failed: %s' % (principal, kdc, _clean(error)),
                  'kerberos')


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


# -- options of every module that talks to a DC (odj_provision, odj_verify_secret) ---------------------
_env = env


CONNECTION_ARGUMENT_SPEC = dict(
    domain_server=dict(type='str', aliases=['domain_controller', 'dc_name'], fallback=_env('WINIMAGE_DOMAIN_SERVER')),
    port=dict(type='int'),
    domain_username=dict(type='str', fallback=_env('WINIMAGE_DOMAIN_USERNAME')),
    domain_password=dict(type='str', no_log=True, fallback=_env('WINIMAGE_DOMAIN_PASSWORD')),
    auth_protocol=dict(type='str', default='negotiate', choices=list(AUTH_PROTOCOLS),
                       fallback=_env('WINIMAGE_AUTH_PROTOCOL')),
    encrypt=dict(type='bool', default=True),
    tls_mode=dict(type='str', default='auto', choices=list(TLS_MODES), fallback=_env('WINIMAGE_TLS_MODE')),
    cert_validation=dict(type='str', default='always', choices=list(CERT_VALIDATIONS),
                         fallback=_env('WINIMAGE_CERT_VALIDATION')),
    validate_certs=dict(type='bool', removed_in_version='1.0.0', removed_from_collection='winimage.provisioning'),
    ca_cert=dict(type='path', aliases=['ca_file'], fallback=_env('WINIMAGE_CA_CERT')),
    ccache=dict(type='str'),
    keytab=dict(type='path', no_log=False, fallback=_env('WINIMAGE_KEYTAB')),
)


def client_options(params, domain=None, run_command=None):
    """ADClient keyword arguments (all but the server) from validated module params (CONNECTION_ARGUMENT_SPEC)."""
    validation = params['cert_validation']
    if params.get('validate_certs') is False:
        validation = 'ignore'
    if params['ca_cert'] and not os.path.isfile(params['ca_cert']):
        raise ADError('ca_cert %s does not exist' % params['ca_cert'], 'options')
    kwargs = dict(port=params['port'], tls_mode=params['tls_mode'], auth_protocol=params['auth_protocol'],
                  cert_validation=validation, ca_cert=params['ca_cert'], encrypt=params['encrypt'],
                  timeout=params['timeout'], domain=domain, run_command=run_command,
                  username=params['domain_username'], password=params['domain_password'])
    if params['domain_password'] is None:
        kwargs.update(ccache=params['ccache'], keytab=params['keytab'])
        if kwargs['auth_protocol'] == 'negotiate':
            kwargs['auth_protocol'] = 'kerberos'  # no password: a ticket is the only credential
    return kwargs
