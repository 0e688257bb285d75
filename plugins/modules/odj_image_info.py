#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: odj_image_info
short_description: Report the pending offline domain join an offline Windows image carries
version_added: 0.1.0
description:
  - Reads an offline Windows image (a folder holding C(Windows/), or one image of a C(.wim)) and reports the pending
    offline domain join it carries - in the SYSTEM hive (what M(winimage.provisioning.odj_install) with
    C(method=registry) or Windows' install call writes) and in C(Windows/Panther/unattend.xml) (C(AccountData)).
  - Reports machine, domain, domain controller, package parts and where the state sits, and whether a clear-text
    machine secret is present in the image (an audit for images that should not carry one). The secret itself is
    never returned.
  - Read only; the image is not changed. A C(.wim) is read with C(wimlib-imagex extract), without mounting.
  - With O(images), many images are read in one module run and reported in RV(results); an image that cannot be
    read is reported there with its error and does not stop the others (the task does not fail for it).
author:
  - winimage.provisioning contributors (@winimage)
requirements:
  - regipy Python package on the target
extends_documentation_fragment:
  - winimage.provisioning.image
  - winimage.provisioning.attributes.read_only
options:
  images:
    description:
      - Many images to read in one run, each with O(images[].image) and optionally O(images[].image_index).
    type: list
    elements: dict
    suboptions:
      image:
        description:
          - A folder that holds C(Windows/), or a C(.wim) file.
        type: path
        required: true
      image_index:
        description:
          - For a C(.wim), the image to read, by number (from 1) or by name.
        type: str
seealso:
  - module: winimage.provisioning.odj_install
'''

EXAMPLES = r'''
- name: Audit an image for a clear-text machine secret
  winimage.provisioning.odj_image_info:
    image: /srv/images/install.wim
    image_index: 1
  register: odj

- name: Fail when the golden image carries a machine password
  ansible.builtin.assert:
    that: not odj.clear_text_secret_present
    fail_msg: "{{ odj.registry.pending.machine_name | default('an unattend AccountData') }} is pending in the image"

- name: Report the pending join of many images in one task
  winimage.provisioning.odj_image_info:
    images:
      - image: /srv/images/kiosk07
      - image: /srv/images/install.wim
        image_index: 2
  register: odj_images

- name: List the images that carry a clear-text machine secret
  ansible.builtin.debug:
    msg: "{{ odj_images.results | selectattr('clear_text_secret_present') | map(attribute='image_path') | list }}"
'''

RETURN = r'''
image:
  description: The image read.
  returned: without O(images)
  type: dict
  sample: {type: folder, path: /srv/images/kiosk07}
clear_text_secret_present:
  description: Whether the image holds a machine password in clear text (in the SYSTEM hive or in an unattend AccountData).
  returned: without O(images)
  type: bool
architecture:
  description: The processor architecture of the image, when known.
  returned: without O(images)
  type: str
  sample: amd64
registry:
  description: The SYSTEM hive's state; null when the image has no SYSTEM hive.
  returned: without O(images)
  type: dict
  contains:
    hive:
      description: Where the hive sits inside the image.
      type: str
      sample: Windows/System32/config/SYSTEM
    dirty:
      description: Whether the hive is dirty (its transaction logs hold changes not in it).
      type: bool
    control_set:
      description: The control set named by C(Select\Current).
      type: str
      sample: ControlSet001
    pending:
      description:
        - The pending join (null when none) - C(location), C(machine_name), C(netbios_domain), C(domain), C(forest),
          C(domain_guid), C(domain_sid), C(provision_options), C(join_options), C(dc) (name, address, sites, flags),
          C(parts) (index, type, label, flags), C(clear_text_secret_present).
      type: dict
unattend:
  description: The unattend file's AccountData entries (pass, architecture, machine_name, domain, dc, parts,
    clear_text_secret_present); null when there is no unattend file.
  returned: without O(images)
  type: dict
results:
  description:
    - With O(images), one entry per image, in the order of O(images). Each entry holds the keys a single run returns
      (RV(image), RV(clear_text_secret_present), RV(architecture), RV(registry), RV(unattend), when the image could be
      read) and C(image_path), C(image_index), C(failed), C(error), C(warnings).
  returned: with O(images)
  type: list
  elements: dict
  sample: [{image_path: /srv/images/kiosk07, image_index: null, failed: false, error: null, clear_text_secret_present: true}]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

try:
    from ansible_collections.winimage.provisioning.plugins.module_utils.image.access import module_runner
    from ansible_collections.winimage.provisioning.plugins.module_utils.image.install import InstallError, image_info, image_info_batch
    IMPORT_ERROR = None
except ImportError as exc:
    IMPORT_ERROR = exc


def main():
    module = AnsibleModule(
        argument_spec=dict(
            image=dict(type='path'),
            image_index=dict(type='str'),
            images=dict(type='list', elements='dict', options=dict(
                image=dict(type='path', required=True),
                image_index=dict(type='str'),
            )),
        ),
        mutually_exclusive=[('image', 'images'), ('image_index', 'images')],
        required_one_of=[('image', 'images')],
        supports_check_mode=True,
    )
    if IMPORT_ERROR is not None:
        module.fail_json(msg='winimage.provisioning.odj_image_info needs the regipy Python package and libhivex0: %s'
                             % to_native(IMPORT_ERROR))
    if module.params['images'] is not None:
        results = image_info_batch(module.params['images'], run_command=module_runner(module))
        for entry in results:
            for warning in entry.get('warnings') or []:
                module.warn('%s: %s' % (entry['image_path'], warning))
        module.exit_json(changed=False, results=results)
    try:
        info = image_info(module.params['image'], module.params['image_index'], run_command=module_runner(module))
    except InstallError as exc:
        module.fail_json(msg=to_native(exc))
    for warning in info.pop('warnings', []):
        module.warn(warning)
    module.exit_json(changed=False, **info)


if __name__ == '__main__':
    main()
