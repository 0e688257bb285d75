# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: odj_image_entries
short_description: The images option of odj_image_info and odj_verify_secret from a machine list
version_added: 0.1.0
description:
  - Turns machine dicts (C(name), C(image), optional C(image_index)) into the entries of the C(images) option of
    M(winimage.provisioning.odj_image_info) (C(image), C(image_index)) or, with O(machine_name), of
    M(winimage.provisioning.odj_verify_secret) (also C(machine_name)), one per machine in the same order.
  - C(image_index) is passed as text and left out when the machine sets none.
author:
  - winimage.provisioning contributors (@winimage)
options:
  _input:
    description: The machines (dicts with C(image), and C(name) when O(machine_name) is true).
    type: list
    elements: dict
    required: true
  machine_name:
    description: Whether each entry names the machine (C(machine_name)), as M(winimage.provisioning.odj_verify_secret) takes it.
    type: bool
    default: false
seealso:
  - module: winimage.provisioning.odj_image_info
  - module: winimage.provisioning.odj_verify_secret
'''

EXAMPLES = r'''
- name: Read the pending join state of the images
  winimage.provisioning.odj_image_info:
    images: "{{ requester_machines | winimage.provisioning.odj_image_entries }}"

- name: Authenticate as NAME$ with the secret found in each image
  winimage.provisioning.odj_verify_secret:
    images: "{{ requester_machines | winimage.provisioning.odj_image_entries(machine_name=true) }}"
    domain: corp.example.com
'''

RETURN = r'''
_value:
  description: One dict per machine with C(image), C(image_index) when set, and C(machine_name) with O(machine_name).
  type: list
  elements: dict
  sample: [{"image": "/srv/images/fleet.wim", "image_index": "2", "machine_name": "KIOSK07"}]
'''

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean


def odj_image_entries(machines, machine_name=False):
    """Machines -> images option entries (see DOCUMENTATION)."""
    if machines is None:
        machines = []
    if isinstance(machines, (str, Mapping)) or not hasattr(machines, '__iter__'):
        raise AnsibleFilterError('odj_image_entries: the machines must be a list of dicts, not %s'
                                 % type(machines).__name__)
    with_name = boolean(machine_name, strict=False)
    out = []
    for m in machines:
        if not isinstance(m, Mapping) or not m.get('image') or (with_name and not m.get('name')):
            raise AnsibleFilterError('odj_image_entries: each machine must be a dict with %s, got %r'
                                     % ('a name and an image' if with_name else 'an image', m))
        entry = {'image': m['image']}
        if m.get('image_index') is not None:
            entry['image_index'] = str(m['image_index'])
        if with_name:
            entry['machine_name'] = m['name']
        out.append(entry)
    return out


class FilterModule(object):
    """Images option entries."""

    def filters(self):
        return {'odj_image_entries': odj_image_entries}
