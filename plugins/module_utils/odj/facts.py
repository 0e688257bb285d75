# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secret-free facts about a decoded provisioning package.

What ``odj_package_info`` returns and the ``odj_info`` filter gives. The machine
password and PFX contents are never part of it: only ``has_password``.
"""

from __future__ import annotations

from ansible_collections.winimage.provisioning.plugins.module_utils.odj.ndr import RawPayload, encode_type1
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.flags import (
    DC_ADDRESS_TYPES, DC_FLAGS, JOINPROV2_FLAGS, PROVISION_FLAGS, REG_TYPES, STORE_LOCATIONS, flag_names,
)
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import (
    PART_CERT, PART_JOINPROV2, PART_JOINPROV3, PART_JOINPROV4, PART_NAMES, PART_POLICY, CertPart, JoinProv2Part,
    JoinProv3Part, JoinProv4Part, PolicyPart,
)

BLOB_FORMATS = {1: 'ODJ_WIN7_FORMAT', 2: 'ODJ_WIN8_FORMAT'}


def _str_guid(value):
    return None if value is None else str(value)


def _part_size(payload):
    if payload is None:
        return 0
    if isinstance(payload, RawPayload):
        return len(payload.data)
    return len(encode_type1(payload))


def policy_facts(policy):
    """Element lists of a PolicyPart as plain data (key, value name, type, size)."""
    lists = []
    for element_list in policy.element_lists or []:
        lists.append({
            'source': element_list.source,
            'root_key_id': element_list.root_key_id,
            'elements': [{
                'key': element.key_path,
                'value_name': element.value_name,
                'type': element.value_type,
                'type_name': REG_TYPES.get(element.value_type, 'REG_0x%x' % (element.value_type or 0)),
                'size': len(element.data or b''),
            } for element in element_list.elements or []],
        })
    return lists


def cert_facts(cert):
    return {
        'templates': [store.template_name for store in cert.pfx_stores or []],
        'pfx_stores': [{
            'template_name': store.template_name,
            'private_key_export_policy': store.private_key_export_policy,
            'policy_server_url': store.policy_server_url,
            'policy_server_id': store.policy_server_id,
            'size': len(store.pfx or b''),
        } for store in cert.pfx_stores or []],
        'sst_stores': [{
            'store_location': store.store_location,
            'store_location_name': STORE_LOCATIONS.get(store.store_location, str(store.store_location)),
            'store_name': store.store_name,
            'size': len(store.sst or b''),
        } for store in cert.sst_stores or []],
    }


def package_facts(pd, form=None):
    """Facts about ProvisionData; never the machine password."""
    win7 = pd.win7
    ddi = win7.dns_domain_info
    dc = win7.dc_info
    package = pd.package
    facts = {
        'form': form,
        'version': pd.version,
        'blobs': [{'format': blob.format, 'format_name': BLOB_FORMATS.get(blob.format, 'unknown')}
                  for blob in pd.blobs or []],
        'domain': {
            'netbios_name': ddi.name,
            'dns_name': ddi.dns_domain_name,
            'forest': ddi.dns_forest_name,
            'guid': _str_guid(ddi.domain_guid),
            'sid': ddi.sid,
        },
        'machine_name': win7.machine_name,
        'machine_rid': None,
        'machine_sid': None,
        'machine_object_guid': None,
        'dc': {
            'name': dc.dc_name,
            'address': dc.dc_address,
            'address_type': dc.dc_address_type,
            'address_type_name': DC_ADDRESS_TYPES.get(dc.dc_address_type, str(dc.dc_address_type)),
            'domain_guid': _str_guid(dc.domain_guid),
            'domain_name': dc.domain_name,
            'forest': dc.dns_forest_name,
            'flags': dc.flags,
            'flag_names': flag_names(dc.flags, DC_FLAGS),
            'site_name': dc.dc_site_name,
            'client_site_name': dc.client_site_name,
        },
        'options': win7.options,
        'option_names': flag_names(win7.options, PROVISION_FLAGS),
        'encrypted': bool(package is not None and package.encrypted),
        'encryption_type': _str_guid(package.encryption_type) if package is not None else None,
        'parts': [],
        'certificate_templates': [],
        'certificates': None,
        'policies': [],
        'join_provider_2': None,
        'has_password': bool(win7.machine_password),
    }
    if package is None or package.encrypted:
        return facts
    for index, part in enumerate(package.parts):
        payload = part.payload
        facts['parts'].append({
            'index': index + 1,
            'type': PART_NAMES.get(part.part_type, 'unknown'),
            'type_guid': str(part.part_type),
            'flags': part.flags,
            'essential': part.essential,
            'size': _part_size(payload),
            'decoded': not isinstance(payload, RawPayload),
        })
        if part.part_type in (PART_JOINPROV3, PART_JOINPROV4) and isinstance(payload, (JoinProv3Part, JoinProv4Part)):
            facts['machine_rid'] = payload.rid
            facts['machine_sid'] = payload.sid
            if isinstance(payload, JoinProv4Part):
                facts['machine_object_guid'] = _str_guid(payload.object_guid)
        elif part.part_type == PART_JOINPROV2 and isinstance(payload, JoinProv2Part):
            facts['join_provider_2'] = {
                'flags': payload.flags,
                'flag_names': flag_names(payload.flags, JOINPROV2_FLAGS),
                'netbios_name': payload.netbios_name,
                'site_name': payload.site_name,
                'primary_dns_domain': payload.primary_dns_domain,
            }
        elif part.part_type == PART_CERT and isinstance(payload, CertPart):
            certs = cert_facts(payload)
            facts['certificates'] = certs
            facts['certificate_templates'].extend(name for name in certs['templates'] if name)
        elif part.part_type == PART_POLICY and isinstance(payload, PolicyPart):
            facts['policies'].extend(policy_facts(payload))
    return facts
