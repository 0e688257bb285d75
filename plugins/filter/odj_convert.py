# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: odj_convert
short_description: Convert an offline domain join package between its text forms
version_added: 0.1.0
description:
  - Converts a provisioning package between one line of base64 of the raw package (what
    C(NetProvisionComputerAccount) returns, C(djoin /printblob) prints and unattend
    C(AccountData) takes) and the C(djoin /savefile) file (UTF-16LE with a byte order
    mark and a trailing NUL), given as base64 of the file bytes - the form
    M(ansible.builtin.slurp) returns.
  - The input form is detected; the package is decoded and checked before it is converted.
  - The result carries the machine password in clear text; keep it in C(no_log) tasks.
author:
  - winimage.provisioning contributors (@winimage)
options:
  _input:
    description: The package, in any form.
    type: raw
    required: true
  to:
    description:
      - V(base64) gives one line of base64 of the raw package.
      - V(djoin_file) gives the base64 of the bytes of a C(djoin) file.
    type: str
    choices: [base64, djoin_file]
    default: base64
seealso:
  - plugin: winimage.provisioning.odj_info
    plugin_type: filter
'''

EXAMPLES = r'''
- name: Turn a slurped djoin file into unattend AccountData text
  ansible.builtin.set_fact:
    account_data: "{{ slurped.content | winimage.provisioning.odj_convert('base64') }}"
  no_log: true

- name: Make djoin file bytes (base64) from API output
  ansible.builtin.set_fact:
    djoin_b64: "{{ api_blob | winimage.provisioning.odj_convert(to='djoin_file') }}"
  no_log: true
'''

RETURN = r'''
_value:
  description: The package in the requested form (see O(to)).
  type: str
'''

import base64

from ansible.errors import AnsibleFilterError

from ansible_collections.winimage.provisioning.plugins.module_utils.odj.load import PackageLoadError, load_package
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_base64, to_djoin_file


def odj_convert(value, to='base64'):
    """The package in another text form."""
    if to not in ('base64', 'djoin_file'):
        raise AnsibleFilterError("odj_convert: to must be 'base64' or 'djoin_file', not %r" % (to,))
    try:
        raw = load_package(data=value, where='the value').raw
    except PackageLoadError as exc:
        raise AnsibleFilterError('odj_convert: %s' % exc)
    if to == 'base64':
        return to_base64(raw)
    return base64.b64encode(to_djoin_file(raw)).decode('ascii')


class FilterModule(object):
    """Offline domain join package filters."""

    def filters(self):
        return {'odj_convert': odj_convert}
