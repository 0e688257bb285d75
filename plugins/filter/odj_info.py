# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: odj_info
short_description: Facts of an offline domain join provisioning package
version_added: 0.1.0
description:
  - Decodes a provisioning package held in a variable and returns the same facts as
    M(winimage.provisioning.odj_package_info), without the machine password.
  - Takes one line of base64 (API output, unattend C(AccountData)), the base64 of a C(djoin)
    file (what M(ansible.builtin.slurp) returns), or the C(djoin) file text.
author:
  - winimage.provisioning contributors (@winimage)
options:
  _input:
    description: The package.
    type: raw
    required: true
seealso:
  - module: winimage.provisioning.odj_package_info
  - plugin: winimage.provisioning.odj_convert
    plugin_type: filter
'''

EXAMPLES = r'''
- name: Read a package file from the controller
  ansible.builtin.slurp:
    src: /srv/odj/WS0042.djoin
  register: slurped
  no_log: true

- name: Show the machine and domain it carries
  ansible.builtin.debug:
    msg: "{{ (slurped.content | winimage.provisioning.odj_info).machine_name }}"
'''

RETURN = r'''
_value:
  description:
    - The package facts (see M(winimage.provisioning.odj_package_info) for each key).
    - Never contains the machine password; C(has_password) says whether there is one.
  type: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.winimage.provisioning.plugins.module_utils.odj.facts import package_facts
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.load import PackageLoadError, load_package


def odj_info(value):
    """Secret-free facts of a package held in a string."""
    try:
        loaded = load_package(data=value, where='the value')
    except PackageLoadError as exc:
        raise AnsibleFilterError('odj_info: %s' % exc)
    facts = package_facts(loaded.pd, loaded.form if isinstance(value, bytes) else 'base64')
    facts['size'] = len(loaded.raw)
    return facts


class FilterModule(object):
    """Offline domain join package filters."""

    def filters(self):
        return {'odj_info': odj_info}
