# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DC locator: DCs of a domain from DNS, and what a DC says about itself and its domain.

* ``discover_dcs``: the ``_ldap._tcp[.site._sites].dc._msdcs.<domain>`` SRV
  records (dnspython), best first, as DsGetDcName finds them;
* ``netlogon_ping``: the LDAP ping (MS-ADTS 6.3.3), a rootDSE search for
  ``Netlogon``, answered with a NETLOGON_SAM_LOGON_RESPONSE_EX
  (``parse_netlogon_response``): DC flags, domain GUID, forest, DC name, sites;
* ``domain_info``: everything a provisioning package needs about the domain
  and the DC (SID and GUID of the domain, its computers container, DS_* flags).

``client`` is a bound ``connection.Connection`` (anything with its ``search``,
``rootdse``, ``peer_address`` and ``server``).
"""

from __future__ import annotations

import collections
import re
import socket
import struct
import uuid

from ansible_collections.winimage.provisioning.plugins.module_utils.ad.errors import ADError
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.values import (
    dn_to_dns, filter_bytes, filter_value, guid_from_bytes, object_sid, text_value)
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.flags import DC

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

NetlogonInfo = collections.namedtuple('NetlogonInfo', [
    'opcode', 'flags', 'domain_guid', 'forest', 'dns_domain', 'dc_dns_name', 'netbios_domain',
    'dc_netbios_name', 'user_name', 'dc_site_name', 'client_site_name', 'dc_ip', 'next_closest_site',
    'nt_version'])

DomainInfo = collections.namedtuple('DomainInfo', [
    'base_dn', 'dns_domain', 'netbios', 'forest', 'sid', 'guid', 'dc_dns_name', 'dc_address', 'dc_flags',
    'dc_site_name', 'client_site_name', 'computers_dn', 'functionality'])

DiscoveredDC = collections.namedtuple('DiscoveredDC', ['host', 'port', 'priority', 'weight', 'addresses'])


def _import_dns():
    """dnspython, imported only when a DC has to be found (it is slow to import)."""
    try:
        import dns.exception  # pylint: disable=import-outside-toplevel
        import dns.resolver  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise ADError('finding a domain controller needs the dnspython package (or give domain_server)',
                      'missing_library')
    return dns


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
    raise ADError('no domain controller found for %s in DNS (%s); give domain_server or check DNS'
                  % (domain, '; '.join(errors) or 'no SRV records'), 'discovery')


def netlogon_ping(client, dns_domain, nt_version=DEFAULT_NT_VERSION, domain_guid=None):
    """The LDAP ping (MS-ADTS 6.3.3): rootDSE search for Netlogon -> NetlogonInfo."""
    parts = ['(DnsDomain=%s)' % filter_value(dns_domain)]
    if domain_guid is not None:
        parts.append('(DomainGuid=%s)' % filter_bytes(domain_guid.bytes_le))
    parts.append('(NtVer=%s)' % filter_bytes(struct.pack('<I', nt_version)))
    entries = client.search('', '(&%s)' % ''.join(parts), 'base', ['Netlogon'])
    if not entries or not entries[0][1].get('netlogon'):
        raise ADError('the DC %s did not answer the Netlogon LDAP ping for %s (is it a DC of that domain?)'
                      % (client.where(), dns_domain), 'not_found')
    return parse_netlogon_response(entries[0][1]['netlogon'][0])


def domain_info(client, dns_domain):
    """Everything the package needs about the domain and this DC."""
    rootdse = client.rootdse()
    base_dn = rootdse.get('defaultnamingcontext')
    if not base_dn:
        raise ADError('the DC has no defaultNamingContext', 'protocol')
    if dn_to_dns(base_dn).lower() != dns_domain.lower().rstrip('.'):
        raise ADError('the DC %s serves the domain %s, not %s' % (client.where(), dn_to_dns(base_dn), dns_domain),
                      'not_found')
    ping = netlogon_ping(client, dns_domain)
    entries = client.search(base_dn, '(objectClass=*)', 'base', ['objectSid', 'objectGUID', 'wellKnownObjects'])
    if not entries:
        raise ADError('cannot read the domain object %s' % base_dn, 'not_found')
    raw = entries[0][1]
    sid = object_sid(raw['objectsid'][0])
    guid = guid_from_bytes(raw['objectguid'][0])
    computers = None
    for value in raw.get('wellknownobjects', []):
        value = text_value(value)
        match = re.match(r'B:32:([0-9A-Fa-f]{32}):(.*)$', value)
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
    address = client.peer_address or client.server
    return DomainInfo(base_dn=base_dn, dns_domain=ping.dns_domain or dns_domain.lower(),
                      netbios=ping.netbios_domain, forest=ping.forest or dn_to_dns(rootdse.get(
                          'rootdomainnamingcontext', base_dn)),
                      sid=sid, guid=guid, dc_dns_name=ping.dc_dns_name or rootdse.get('dnshostname'),
                      dc_address=address, dc_flags=flags, dc_site_name=ping.dc_site_name,
                      client_site_name=ping.client_site_name, computers_dn=computers,
                      functionality=rootdse.get('domainfunctionality'))
