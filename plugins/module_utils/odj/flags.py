# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names of the numeric flags a provisioning package carries (Windows' names)."""

from __future__ import annotations

# NETSETUP_PROVISION_* (lmjoin.h)
PROVISION_FLAGS = (
    (0x00000001, 'NETSETUP_PROVISION_DOWNLEVEL_PRIV_SUPPORT'),
    (0x00000002, 'NETSETUP_PROVISION_REUSE_ACCOUNT'),
    (0x00000004, 'NETSETUP_PROVISION_USE_DEFAULT_PASSWORD'),
    (0x00000008, 'NETSETUP_PROVISION_SKIP_ACCOUNT_SEARCH'),
    (0x00000010, 'NETSETUP_PROVISION_ROOT_CA_CERTS'),
    (0x00000020, 'NETSETUP_PROVISION_PERSISTENTSITE'),
    (0x40000000, 'NETSETUP_PROVISION_ONLINE_CALLER'),
)
PROVISION = dict((name, value) for value, name in PROVISION_FLAGS)

# module option -> NETSETUP_PROVISION_* name, one to one
OPTION_FLAGS = (
    ('reuse_account', 'NETSETUP_PROVISION_REUSE_ACCOUNT'),
    ('use_default_password', 'NETSETUP_PROVISION_USE_DEFAULT_PASSWORD'),
    ('skip_account_search', 'NETSETUP_PROVISION_SKIP_ACCOUNT_SEARCH'),
    ('provision_root_ca_certs', 'NETSETUP_PROVISION_ROOT_CA_CERTS'),
    ('persistent_site', 'NETSETUP_PROVISION_PERSISTENTSITE'),
)
# win_odj_provision's options: the same, plus the one only Windows' NetCreateProvisioningPackage honours
WINDOWS_OPTION_FLAGS = OPTION_FLAGS + (('downlevel_priv_support', 'NETSETUP_PROVISION_DOWNLEVEL_PRIV_SUPPORT'),)


def flags_of(params, table=OPTION_FLAGS):
    """NETSETUP_PROVISION_* value of the options of table that params (a dict of module options) sets true."""
    value = 0
    for option, name in table:
        if params.get(option):
            value |= PROVISION[name]
    return value


def provision_flags(**options):
    """NETSETUP_PROVISION_* value of the options given as booleans (names of OPTION_FLAGS)."""
    unknown = set(options) - set(option for option, dummy in OPTION_FLAGS)
    if unknown:
        raise ValueError('unknown provisioning option(s): %s' % ', '.join(sorted(unknown)))
    return flags_of(options)


# DOMAIN_CONTROLLER_INFO Flags (dsgetdc.h)
DC_FLAGS = (
    (0x00000001, 'DS_PDC_FLAG'),
    (0x00000004, 'DS_GC_FLAG'),
    (0x00000008, 'DS_LDAP_FLAG'),
    (0x00000010, 'DS_DS_FLAG'),
    (0x00000020, 'DS_KDC_FLAG'),
    (0x00000040, 'DS_TIMESERV_FLAG'),
    (0x00000080, 'DS_CLOSEST_FLAG'),
    (0x00000100, 'DS_WRITABLE_FLAG'),
    (0x00000200, 'DS_GOOD_TIMESERV_FLAG'),
    (0x00000400, 'DS_NDNC_FLAG'),
    (0x00000800, 'DS_SELECT_SECRET_DOMAIN_6_FLAG'),
    (0x00001000, 'DS_FULL_SECRET_DOMAIN_6_FLAG'),
    (0x00002000, 'DS_WS_FLAG'),
    (0x00004000, 'DS_DS_8_FLAG'),
    (0x00008000, 'DS_DS_9_FLAG'),
    (0x00010000, 'DS_DS_10_FLAG'),
    (0x00020000, 'DS_KEY_LIST_FLAG'),
    (0x20000000, 'DS_DNS_CONTROLLER_FLAG'),
    (0x40000000, 'DS_DNS_DOMAIN_FLAG'),
    (0x80000000, 'DS_DNS_FOREST_FLAG'),
)
DC = dict((name, value) for value, name in DC_FLAGS)

DC_ADDRESS_TYPES = {1: 'DS_INET_ADDRESS', 2: 'DS_NETBIOS_ADDRESS'}

# Registry value types (winnt.h REG_*), shared by the hive writer, the policy-file codec and the facts
REG_NONE = 0
REG_SZ = 1
REG_EXPAND_SZ = 2
REG_BINARY = 3
REG_DWORD = 4
REG_DWORD_BIG_ENDIAN = 5
REG_LINK = 6
REG_MULTI_SZ = 7
REG_RESOURCE_LIST = 8
REG_FULL_RESOURCE_DESCRIPTOR = 9
REG_RESOURCE_REQUIREMENTS_LIST = 10
REG_QWORD = 11
REG_TYPES = dict((value, name) for name, value in globals().copy().items() if name.startswith('REG_') and isinstance(value, int))

# OP_CERT_SST_STORE StoreLocation (CERT_SYSTEM_STORE_* >> 16)
STORE_LOCATIONS = {1: 'CURRENT_USER', 2: 'LOCAL_MACHINE', 3: 'CURRENT_SERVICE', 4: 'SERVICES', 5: 'USERS',
                   6: 'CURRENT_USER_GROUP_POLICY', 7: 'LOCAL_MACHINE_GROUP_POLICY', 8: 'LOCAL_MACHINE_ENTERPRISE'}

# OP_JOINPROV2_PART dwFlags
JOINPROV2_FLAGS = ((0x1, 'OPSPI_PERSISTENT_SITE'),)


def flag_names(value, table):
    """Names of the bits set in value; unknown bits as 0x... hex."""
    value = int(value or 0)
    names = []
    known = 0
    for bit, name in table:
        known |= bit
        if value & bit:
            names.append(name)
    rest = value & ~known
    if rest:
        names.append('0x%08x' % rest)
    return names
