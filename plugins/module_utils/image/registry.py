# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The offline-join state in an image's SYSTEM hive, as NetRequestProvisioningPackageInstall writes it.

``plan_entries(pd, control_set)`` turns a decoded package into the exact list
of keys and values ``NetRequestProvisioningPackageInstall`` writes into an
offline image. ``read_pending(reader)`` reads such a state back (for
idempotency checks and for odj_image_info); ``compare`` lists differences.

Readers: ``HivexReader`` (libhivex, the writer's own view) and
``RegipyReader`` (regipy, an independent parser used to verify what was
written) and ``DumpReader`` (the key dump a Windows module returns).

Only what a Windows reference shows is written (``REGISTRY_SOURCES`` says
where each key comes from; docs/docsite/rst/requester.rst has the table): the
Microsoft export of such a hive shows the join provider part
(``OfflineProvisioning\\1`` with an empty ``Data`` key) and nothing about the
other parts. So:

* join provider 3 / 4 parts (the account's RID, SID, GUID), when not essential,
  are left out of the hive (``omitted_parts``): the join does not depend on
  them, and how Windows stores them is not known;
* join provider 2 (persistent site), certificate and policy parts, unknown
  parts and essential join provider 3 / 4 parts cannot be placed:
  ``unsupported_parts`` names them and the engine refuses unless told to leave
  them out. The unattend route (AccountData) carries the whole package.

One inference remains (marked where used): JoinOptions being the install
call's options (0 offline).
"""

from __future__ import annotations

import base64
import uuid

from ansible_collections.winimage.provisioning.plugins.module_utils.image.hivex import (
    REG_BINARY,
    REG_DWORD,
    REG_SZ,
    TYPE_NAMES,
    decode_value,
)
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import (
    PART_CERT,
    PART_JOINPROV2,
    PART_JOINPROV3,
    PART_JOINPROV4,
    PART_POLICY,
    PART_WIN7BLOB,
)

SECRET_VALUE = 'CurrentValue'
MASK = '********'
LSA = 'Control\\Lsa'
OFFLINE_JOIN = LSA + '\\OfflineJoin'
OFFLINE_PROV = LSA + '\\OfflineProvisioning'
NETLOGON = 'Services\\Netlogon'
JOIN_DOMAIN = NETLOGON + '\\JoinDomain'
TCPIP = 'Services\\Tcpip\\Parameters'
COMPUTER_NAME = 'Control\\ComputerName\\ComputerName'
ACTIVE_COMPUTER_NAME = 'Control\\ComputerName\\ActiveComputerName'
DJOIN = 'Setup\\DJOIN'
# The keys (relative to the SYSTEM hive root) that hold a join state, for the Windows modules that dump
# them: 'ControlSet*' stands for every ControlSetNNN key; recurse dumps subkeys too.
JOIN_STATE_KEYS = (
    {'path': 'Select', 'recurse': False},
    {'path': 'ControlSet*\\Control', 'recurse': False},
    {'path': 'ControlSet*\\Control\\Lsa\\OfflineJoin', 'recurse': False},
    {'path': 'ControlSet*\\Control\\Lsa\\OfflineProvisioning', 'recurse': True},
    {'path': 'ControlSet*\\Services\\Netlogon', 'recurse': False},
    {'path': 'ControlSet*\\Services\\Netlogon\\JoinDomain', 'recurse': False},
    {'path': 'Setup\\DJOIN', 'recurse': False},
)
# Keys whose whole content is the join state: removed and rewritten on install.
OWNED_KEYS = (OFFLINE_JOIN, OFFLINE_PROV, JOIN_DOMAIN)
PLACEABLE_PARTS = (PART_WIN7BLOB,)
# left out of the hive when not essential (see the module docstring)
OMITTABLE_PARTS = (PART_JOINPROV3, PART_JOINPROV4)

# Where each key and value the writer puts into the hive is known from (docs table: requester.rst)
SOURCE_EXPORT = 'export'  # a Microsoft export of an offline-joined SYSTEM hive
SOURCE_INFERRED = 'inferred'
REGISTRY_SOURCES = (
    ('Control\\Lsa\\OfflineJoin', 'JoinAction, MachineName, CurrentValue, DNSDIName, DNSDIDomName, DNSDIForestName, '
     'DNSDIGuid, DNSDISid, ProvisionOptions', SOURCE_EXPORT),
    ('Control\\Lsa\\OfflineJoin', 'JoinOptions (value 0 for an offline image: the install call\'s options)',
     SOURCE_INFERRED),
    ('Control\\Lsa\\OfflineProvisioning', 'NumParts', SOURCE_EXPORT),
    ('Control\\Lsa\\OfflineProvisioning\\<n>', 'Flags, Type; empty subkey Data (the join provider part)', SOURCE_EXPORT),
    ('Services\\Netlogon', 'Start', SOURCE_EXPORT),
    ('Services\\Netlogon\\JoinDomain', 'DomainControllerName, DomainControllerAddress, DomainControllerAddressType, '
     'DomainGuid, DomainName, DnsForestName, Flags, DcSiteName, ClientSiteName', SOURCE_EXPORT),
    ('Services\\Tcpip\\Parameters', 'Hostname, NV Hostname, Domain, NV Domain', SOURCE_EXPORT),
    ('Control\\ComputerName\\ComputerName, ...\\ActiveComputerName', 'ComputerName', SOURCE_EXPORT),
    ('Setup\\DJOIN (hive root)', 'ODJComputerNameSet', SOURCE_EXPORT),
)
PART_LABELS = {
    PART_WIN7BLOB: 'join provider (ODJ_WIN7BLOB)', PART_JOINPROV2: 'join provider 2',
    PART_JOINPROV3: 'join provider 3', PART_JOINPROV4: 'join provider 4',
    PART_CERT: 'certificates (OP_CERT_PART)', PART_POLICY: 'policies (OP_POLICY_PART)',
}


class NotSystemHiveError(ValueError):
    """The hive is not a SYSTEM hive (no Select\\Current or no control set)."""


class Entry(object):
    """One value to write: key (from the hive root), name, registry type, Python value.

    ``name is None`` stands for a key that must exist (possibly empty).
    """

    __slots__ = ('key', 'name', 'vtype', 'value')

    def __init__(self, key, name=None, vtype=None, value=None):
        self.key = key
        self.name = name
        self.vtype = vtype
        self.value = value

    @property
    def secret(self):
        return self.name == SECRET_VALUE

    def shown(self):
        """JSON-friendly value with the secret masked."""
        if self.secret:
            return MASK
        return show_value(self.vtype, self.value)

    def as_dict(self):
        return {'key': self.key, 'name': self.name, 'type': TYPE_NAMES.get(self.vtype) if self.vtype is not None else None,
                'value': self.shown()}

    def __repr__(self):
        return 'Entry(%r, %r, %r)' % (self.key, self.name, self.shown())


def show_value(vtype, value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    return value


class RegistryRouteError(ValueError):
    """The package holds parts the registry route cannot place."""


# ---------------------------------------------------------------- control set

def control_set_name(reader):
    """'ControlSet00N' named by Select\\Current; NotSystemHiveError if absent."""
    values = reader.values('Select')
    if values is None or 'current' not in values:
        raise NotSystemHiveError('no Select\\Current value: this is not a SYSTEM hive (a SOFTWARE, NTUSER or other hive '
                                 'was given where Windows/System32/config/SYSTEM belongs)')
    vtype, data = values['current'][1], values['current'][2]
    current = _normalize(vtype, data) if vtype == REG_DWORD else None
    if not isinstance(current, int) or not 1 <= current <= 999:
        raise NotSystemHiveError('Select\\Current is not a usable control set number')
    name = 'ControlSet%03d' % current
    if reader.subkeys(name + '\\Control') is None:
        raise NotSystemHiveError('Select\\Current names %s, which has no Control key: not a usable SYSTEM hive' % name)
    return name


# ---------------------------------------------------------------- the keys and values written

def _part_item(index, part):
    return {'index': index, 'type': str(part.part_type), 'label': PART_LABELS.get(part.part_type, 'unknown part type'),
            'essential': part.essential}


def omitted_parts(pd):
    """Parts left out of the hive without asking: non-essential join provider 3 / 4 parts."""
    return [_part_item(index, part) for index, part in enumerate(pd.parts, 1)
            if part.part_type in OMITTABLE_PARTS and not part.essential]


def unsupported_parts(pd):
    """[{index from 1, type, label, essential}] of parts the registry route cannot place (and may not just omit)."""
    return [_part_item(index, part) for index, part in enumerate(pd.parts, 1)
            if part.part_type not in PLACEABLE_PARTS and not (part.part_type in OMITTABLE_PARTS and not part.essential)]


def plan_entries(pd, control_set, join_options=0, skip_unsupported=False):
    """The exact keys and values the install writes for this package (REGISTRY_SOURCES), in write order."""
    w7 = pd.win7
    info = w7.dns_domain_info
    dc = w7.dc_info
    if not w7.machine_name:
        raise ValueError('the package has no machine name')
    bad = unsupported_parts(pd)
    if bad and not skip_unsupported:
        raise RegistryRouteError(
            'the package holds part(s) the registry method cannot place into the SYSTEM hive: %s. How Windows keeps '
            'them in the hive is not documented. Use method=unattend (AccountData carries the whole '
            'package), or set skip_unsupported_parts to install only the domain join.'
            % ', '.join('#%d %s%s' % (b['index'], b['label'], ' (essential)' if b['essential'] else '') for b in bad))
    cs = control_set + '\\'
    machine = w7.machine_name
    entries = []

    def add(key, name=None, vtype=None, value=None):
        entries.append(Entry(key, name, vtype, value))

    oj = cs + OFFLINE_JOIN
    add(oj, 'JoinAction', REG_DWORD, 1)
    add(oj, 'MachineName', REG_SZ, machine)
    add(oj, SECRET_VALUE, REG_SZ, w7.machine_password or '')
    add(oj, 'DNSDIName', REG_SZ, info.name or '')
    add(oj, 'DNSDIDomName', REG_SZ, info.dns_domain_name or '')
    add(oj, 'DNSDIForestName', REG_SZ, info.dns_forest_name or '')
    add(oj, 'DNSDIGuid', REG_BINARY, (info.domain_guid or uuid.UUID(int=0)).bytes_le)
    add(oj, 'DNSDISid', REG_SZ, info.sid or '')
    add(oj, 'JoinOptions', REG_DWORD, join_options)  # inference: see module docstring
    add(oj, 'ProvisionOptions', REG_DWORD, w7.options or 0)

    placed = [p for p in pd.parts if p.part_type in PLACEABLE_PARTS]
    op = cs + OFFLINE_PROV
    add(op, 'NumParts', REG_DWORD, len(placed))
    for index, part in enumerate(placed, 1):
        key = '%s\\%d' % (op, index)
        add(key, 'Flags', REG_DWORD, part.flags or 0)
        add(key, 'Type', REG_SZ, str(part.part_type).lower())
        add(key + '\\Data')

    add(cs + NETLOGON, 'Start', REG_DWORD, 2)
    jd = cs + JOIN_DOMAIN
    for name, value in (('DomainControllerName', dc.dc_name), ('DomainControllerAddress', dc.dc_address)):
        add(jd, name, REG_SZ, value or '')
    add(jd, 'DomainControllerAddressType', REG_DWORD, dc.dc_address_type or 0)
    add(jd, 'DomainGuid', REG_BINARY, (dc.domain_guid or uuid.UUID(int=0)).bytes_le)
    add(jd, 'DomainName', REG_SZ, dc.domain_name or '')
    add(jd, 'DnsForestName', REG_SZ, dc.dns_forest_name or '')
    add(jd, 'Flags', REG_DWORD, dc.flags or 0)
    add(jd, 'DcSiteName', REG_SZ, dc.dc_site_name or '')
    add(jd, 'ClientSiteName', REG_SZ, dc.client_site_name or '')

    tcpip = cs + TCPIP
    domain = info.dns_domain_name or w7.domain or ''
    add(tcpip, 'Hostname', REG_SZ, machine)
    add(tcpip, 'NV Hostname', REG_SZ, machine)
    add(tcpip, 'Domain', REG_SZ, domain)
    add(tcpip, 'NV Domain', REG_SZ, domain)
    add(cs + COMPUTER_NAME, 'ComputerName', REG_SZ, machine.upper())
    add(cs + ACTIVE_COMPUTER_NAME, 'ComputerName', REG_SZ, machine.upper())
    add(DJOIN, 'ODJComputerNameSet', REG_DWORD, 1)
    return entries


def owned_keys(control_set):
    return [control_set + '\\' + key for key in OWNED_KEYS]


# ---------------------------------------------------------------- readers

class HivexReader(object):
    """Reads through an open image.hivex.Hive."""

    def __init__(self, hive):
        self.hive = hive

    def _node(self, key):
        return self.hive.navigate(key)

    def values(self, key):
        """{lower name: (name, type, bytes)} or None when the key is absent."""
        node = self._node(key)
        if node is None:
            return None
        return dict((name.lower(), (name, vtype, data)) for name, vtype, data in self.hive.values(node))

    def subkeys(self, key):
        node = self._node(key)
        if node is None:
            return None
        return [self.hive.name(child) for child in self.hive.children(node)]


_REGIPY_TYPES = dict((name, number) for number, name in TYPE_NAMES.items())
_REGIPY_TYPES['REG_EXPAND'] = 2


def _inline_aware_stream_class():
    from io import BytesIO

    class InlineAwareBytesIO(BytesIO):
        """regipy reads ``data_size`` bytes for every value, even when the size has bit 31 set (data stored inline
        in the vk cell, which regipy then takes from the vk record). Such a read would copy the rest of the hive for
        nothing; it returns b'' here. Nothing else changes."""

        def read(self, size=-1):
            if size is not None and size >= 0x80000000:
                return b''
            return BytesIO.read(self, size)

    return InlineAwareBytesIO


class RegipyReader(object):
    """Reads a hive file with regipy (independent of libhivex); values come back decoded."""

    def __init__(self, path):
        import regipy.registry as regipy_registry
        self.path = path
        original = regipy_registry.BytesIO
        regipy_registry.BytesIO = _inline_aware_stream_class()
        try:
            self.registry = regipy_registry.RegistryHive(path)
        finally:
            regipy_registry.BytesIO = original

    def _key(self, key):
        """The regipy key at a path (case-insensitive), walking from the nearest key already found."""
        parts = [p for p in key.split('\\') if p]
        if not hasattr(self, '_cache'):
            self._cache = {(): self.registry.root}
        node = self.registry.root
        for depth in range(1, len(parts) + 1):
            path = tuple(p.lower() for p in parts[:depth])
            cached = self._cache.get(path, False)
            if cached is False:
                cached = node.get_subkey(parts[depth - 1], raise_on_missing=False)
                self._cache[path] = cached
            if cached is None:
                return None
            node = cached
        return node

    def values(self, key):
        """{lower name: (name, type, Python value)} or None (decoded values, not bytes)."""
        node = self._key(key)
        if node is None:
            return None
        out = {}
        for value in node.iter_values(as_json=False, trim_values=False):
            name = '' if value.name == '(default)' else value.name
            out[name.lower()] = (name, _REGIPY_TYPES.get(value.value_type, -1), value.value)
        return out

    def subkeys(self, key):
        node = self._key(key)
        if node is None:
            return None
        return [sub.name for sub in node.iter_subkeys()]


class DumpReader(object):
    """A registry reader (HivexReader interface) over the module's key dump.

    dump: {'<path>': {'values': [{'name', 'type', 'data' (base64)}], 'subkeys': [names]}}
    with paths relative to the SYSTEM root; absent keys are missing from the dump.
    """

    def __init__(self, dump):
        self.keys = dict(((k or '').lower(), v) for k, v in (dump or {}).items())

    def values(self, key):
        entry = self.keys.get(key.strip('\\').lower())
        if entry is None:
            return None
        out = {}
        for value in entry.get('values') or []:
            name = value.get('name') or ''
            out[name.lower()] = (name, int(value.get('type') or 0), base64.b64decode(value.get('data') or ''))
        return out

    def subkeys(self, key):
        entry = self.keys.get(key.strip('\\').lower())
        if entry is None:
            return None
        return list(entry.get('subkeys') or [])


def _normalize(vtype, value):
    """Decoded comparable form: str / int / bytes."""
    if isinstance(value, (bytes, bytearray)) and vtype in (REG_SZ, REG_DWORD):
        return decode_value(vtype, bytes(value))
    if isinstance(value, str) and vtype == REG_SZ:
        return value.split('\x00')[0]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return value


def compare(entries, reader):
    """List of mismatches (dicts, secret masked) between planned entries and a hive."""
    problems = []
    cache = {}
    for entry in entries:
        if entry.key not in cache:
            cache[entry.key] = reader.values(entry.key)
        values = cache[entry.key]
        if values is None:
            problems.append({'key': entry.key, 'name': entry.name, 'problem': 'key missing'})
            continue
        if entry.name is None:
            continue
        got = values.get(entry.name.lower())
        if got is None:
            problems.append({'key': entry.key, 'name': entry.name, 'problem': 'value missing'})
            continue
        if got[1] != entry.vtype:
            problems.append({'key': entry.key, 'name': entry.name, 'problem': 'type %s, expected %s' % (
                TYPE_NAMES.get(got[1], got[1]), TYPE_NAMES.get(entry.vtype))})
            continue
        if _normalize(got[1], got[2]) != _normalize(entry.vtype, entry.value):
            problems.append({'key': entry.key, 'name': entry.name,
                             'problem': 'value differs' if entry.secret else 'value %r, expected %r' % (
                                 show_value(got[1], _normalize(got[1], got[2])), entry.shown())})
    return problems


def snapshot(entries, reader):
    """{(key, name): shown value or None} for the planned entries as the hive holds them now (secret masked)."""
    out = {}
    cache = {}
    for entry in entries:
        if entry.name is None:
            continue
        if entry.key not in cache:
            cache[entry.key] = reader.values(entry.key)
        values = cache[entry.key] or {}
        got = values.get(entry.name.lower())
        if got is None:
            out[(entry.key, entry.name)] = None
        elif entry.secret:
            out[(entry.key, entry.name)] = MASK
        else:
            out[(entry.key, entry.name)] = show_value(got[1], _normalize(got[1], got[2]))
    return out


def read_pending(reader, control_set=None):
    """The pending offline-join state of a SYSTEM hive, secret-free; None when there is none."""
    if control_set is None:
        control_set = control_set_name(reader)
    cs = control_set + '\\'
    oj = reader.values(cs + OFFLINE_JOIN)
    if oj is None:
        return None

    def get(values, name):
        item = (values or {}).get(name.lower())
        return None if item is None else _normalize(item[1], item[2])

    def guid(values, name):
        raw = get(values, name)
        if isinstance(raw, bytes) and len(raw) == 16:
            return str(uuid.UUID(bytes_le=raw))
        return None

    jd = reader.values(cs + JOIN_DOMAIN)
    parts = []
    prov = reader.values(cs + OFFLINE_PROV)
    count = get(prov, 'NumParts') or 0
    for index in range(1, int(count) + 1):
        pv = reader.values('%s%s\\%d' % (cs, OFFLINE_PROV, index))
        if pv is None:
            parts.append({'index': index, 'present': False})
            continue
        ptype = get(pv, 'Type')
        try:
            label = PART_LABELS.get(uuid.UUID(ptype), 'unknown part type')
        except (TypeError, ValueError):
            label = 'unknown part type'
        parts.append({'index': index, 'present': True, 'type': ptype, 'label': label, 'flags': get(pv, 'Flags')})
    secret = get(oj, SECRET_VALUE)
    return {
        'control_set': control_set,
        'location': 'HKLM\\SYSTEM\\%s\\%s' % (control_set, OFFLINE_JOIN),
        'join_action': get(oj, 'JoinAction'),
        'machine_name': get(oj, 'MachineName'),
        'netbios_domain': get(oj, 'DNSDIName'),
        'domain': get(oj, 'DNSDIDomName'),
        'forest': get(oj, 'DNSDIForestName'),
        'domain_guid': guid(oj, 'DNSDIGuid'),
        'domain_sid': get(oj, 'DNSDISid'),
        'join_options': get(oj, 'JoinOptions'),
        'provision_options': get(oj, 'ProvisionOptions'),
        'clear_text_secret_present': isinstance(secret, str) and secret != '',
        'dc': None if jd is None else {
            'name': get(jd, 'DomainControllerName'), 'address': get(jd, 'DomainControllerAddress'),
            'address_type': get(jd, 'DomainControllerAddressType'), 'domain_guid': guid(jd, 'DomainGuid'),
            'domain_name': get(jd, 'DomainName'), 'forest': get(jd, 'DnsForestName'), 'flags': get(jd, 'Flags'),
            'dc_site': get(jd, 'DcSiteName'), 'client_site': get(jd, 'ClientSiteName'),
        },
        'parts': parts,
        'netlogon_start': get(reader.values(cs + NETLOGON), 'Start'),
        'odj_computer_name_set': get(reader.values(DJOIN), 'ODJComputerNameSet'),
    }
