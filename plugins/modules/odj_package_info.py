#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: odj_package_info
short_description: Read the facts of an offline domain join provisioning package
version_added: 0.1.0
description:
  - Decodes an offline domain join provisioning package, as made by C(djoin /provision),
    C(NetCreateProvisioningPackage), Samba's C(net offlinejoin provision) or
    M(winimage.provisioning.odj_provision), and returns what it holds.
  - The package may be in any of its three forms, detected automatically - raw bytes,
    one line of base64, or the C(djoin /savefile) file (UTF-16LE with a byte order mark).
  - The machine account password inside the package is never returned, logged or put
    in an error message; RV(has_password) only says whether there is one.
  - A package whose part collection is encrypted is decoded down to its envelope;
    RV(encrypted) is V(true) and RV(parts) is empty.
author:
  - winimage.provisioning contributors (@winimage)
extends_documentation_fragment:
  - winimage.provisioning.attributes.read_only
options:
  path:
    description:
      - Path of the package file on the managed host.
      - Only a regular file (a symlink to one is followed) of at most 4 MiB is read; anything else (a device such
        as C(/dev/zero), a FIFO, a folder, a larger file) is refused before it is read.
      - Mutually exclusive with O(data).
    type: path
  data:
    description:
      - The package itself, as one line of base64 or the text of a C(djoin) file.
      - It carries the machine password in clear text, so it is never logged.
      - Mutually exclusive with O(path).
    type: str
seealso:
  - module: winimage.provisioning.odj_provision
  - module: winimage.provisioning.odj_install
  - plugin: winimage.provisioning.odj_info
    plugin_type: filter
notes:
  - Malformed input fails with the byte offset, the structure being decoded and what was expected there.
'''

EXAMPLES = r'''
- name: Read a package made by djoin /provision /savefile
  winimage.provisioning.odj_package_info:
    path: /srv/odj/WS0042.djoin
  register: pkg

- name: Show where the machine will join
  ansible.builtin.debug:
    msg: "{{ pkg.machine_name }} joins {{ pkg.domain.dns_name }} through {{ pkg.dc.name }}"

- name: Refuse packages made without reuse
  ansible.builtin.assert:
    that: "'NETSETUP_PROVISION_REUSE_ACCOUNT' in pkg.option_names"
'''

RETURN = r'''
form:
  description: The form the package was found in.
  returned: success
  type: str
  choices: [raw, base64, djoin_file]
  sample: djoin_file
size:
  description: Size of the raw package in bytes.
  returned: success
  type: int
  sample: 2240
version:
  description: C(ODJ_PROVISION_DATA) version.
  returned: success
  type: int
  sample: 1
blobs:
  description: The blobs of the package with their format.
  returned: success
  type: list
  elements: dict
  sample: [{format: 1, format_name: ODJ_WIN7_FORMAT}, {format: 2, format_name: ODJ_WIN8_FORMAT}]
domain:
  description: The domain the machine joins.
  returned: success
  type: dict
  contains:
    netbios_name:
      description: NetBIOS name of the domain.
      type: str
      sample: CORP
    dns_name:
      description: DNS name of the domain.
      type: str
      sample: corp.example.test
    forest:
      description: DNS name of the forest.
      type: str
      sample: corp.example.test
    guid:
      description: Domain GUID.
      type: str
      sample: f4432a6b-9694-4c94-8c03-b7152aee2ba2
    sid:
      description: Domain SID.
      type: str
      sample: S-1-5-21-2720103478-3893655958-3880862394
machine_name:
  description: NetBIOS name of the machine the package is for.
  returned: success
  type: str
  sample: KIOSK-07
machine_rid:
  description: RID of the machine account (from the join provider 3 or 4 part), or V(null).
  returned: success
  type: int
  sample: 1124
machine_sid:
  description: SID of the machine account, or V(null).
  returned: success
  type: str
  sample: S-1-5-21-2720103478-3893655958-3880862394-1124
machine_object_guid:
  description: Object GUID of the machine account (join provider 4 only), or V(null).
  returned: success
  type: str
dc:
  description: The domain controller the package was made against.
  returned: success
  type: dict
  contains:
    name:
      description: DC name with its leading C(\\\\).
      type: str
      sample: \\\\dc1.corp.example.test
    address:
      description: DC address with its leading C(\\\\).
      type: str
      sample: \\\\127.0.0.1
    address_type:
      description: 1 for an IP address, 2 for a NetBIOS name.
      type: int
    address_type_name:
      description: Name of RV(dc.address_type).
      type: str
      sample: DS_INET_ADDRESS
    domain_guid:
      description: Domain GUID as the DC reported it.
      type: str
    domain_name:
      description: Domain name as the DC reported it.
      type: str
    forest:
      description: Forest name as the DC reported it.
      type: str
    flags:
      description: The DC flags.
      type: int
      sample: 3758101501
    flag_names:
      description: Names of the DC flags that are set.
      type: list
      elements: str
      sample: [DS_PDC_FLAG, DS_GC_FLAG, DS_WRITABLE_FLAG]
    site_name:
      description: Site of the DC.
      type: str
      sample: Default-First-Site-Name
    client_site_name:
      description: Site the machine will be in.
      type: str
      sample: Default-First-Site-Name
options:
  description: The C(NETSETUP_PROVISION_*) flags the package was made with.
  returned: success
  type: int
  sample: 6
option_names:
  description: Names of RV(options).
  returned: success
  type: list
  elements: str
  sample: [NETSETUP_PROVISION_REUSE_ACCOUNT, NETSETUP_PROVISION_USE_DEFAULT_PASSWORD]
encrypted:
  description: Whether the part collection is encrypted (then RV(parts) is empty).
  returned: success
  type: bool
encryption_type:
  description: Encryption type GUID of the package envelope (all zero when not encrypted), or V(null).
  returned: success
  type: str
parts:
  description: The parts of the format-2 package.
  returned: success
  type: list
  elements: dict
  contains:
    index:
      description: Position, from 1.
      type: int
    type:
      description: >-
        V(join_provider), V(join_provider_2), V(join_provider_3), V(join_provider_4),
        V(certificates), V(policies) or V(unknown).
      type: str
    type_guid:
      description: The part type GUID.
      type: str
    flags:
      description: The part flags.
      type: int
    essential:
      description: Whether the part is flagged essential.
      type: bool
    size:
      description: Size of the part payload in bytes.
      type: int
    decoded:
      description: Whether the codec understood the part (unknown parts are kept as bytes).
      type: bool
join_provider_2:
  description: Fields of the join provider 2 part, or V(null).
  returned: success
  type: dict
certificate_templates:
  description: Names of the certificate templates the package carries certificates for.
  returned: success
  type: list
  elements: str
certificates:
  description: PFX and SST stores of the certificate part (sizes, names; never the content), or V(null).
  returned: success
  type: dict
policies:
  description: Element lists of the policy part, each element with key, value name, type and size.
  returned: success
  type: list
  elements: dict
has_password:
  description: Whether the package carries a machine password. The password itself is never returned.
  returned: success
  type: bool
  sample: true
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.winimage.provisioning.plugins.module_utils.odj.facts import package_facts
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.load import PackageLoadError, load_package


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path'),
            data=dict(type='str', no_log=True),
        ),
        mutually_exclusive=[('path', 'data')],
        required_one_of=[('path', 'data')],
        supports_check_mode=True,
    )
    path = module.params['path']
    try:
        loaded = load_package(data=module.params['data'], path=path,
                              where='path %s' % path if path else 'data')
    except PackageLoadError as exc:
        module.fail_json(msg=to_native(exc), offset=exc.offset, structure=exc.structure, expected=exc.expected)
    raw = loaded.raw
    facts = package_facts(loaded.pd, loaded.form)
    facts['size'] = len(raw)
    module.exit_json(changed=False, **facts)


if __name__ == '__main__':
    main()
