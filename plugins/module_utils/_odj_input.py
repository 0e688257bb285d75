# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Packages as Jinja2 values: the strings a playbook holds, to raw bytes.

A playbook meets a package as a string: one line of base64 (API output,
unattend AccountData), the base64 of a djoin file (what ansible.builtin.slurp
returns), or the djoin file's text decoded from UTF-16 (leading U+FEFF, maybe a
trailing NUL). Bytes are taken in any of the three forms.
"""

from __future__ import annotations

from ansible_collections.winimage.provisioning.plugins.module_utils._odj_text import to_raw


def raw_from_value(value):
    """Raw package bytes from a filter/module value; OdjFormatError if it is not one."""
    if isinstance(value, (bytes, bytearray)):
        return to_raw(bytes(value))
    text = str(value)
    if text.startswith('\ufeff'):
        text = text[1:]
    return to_raw(text.rstrip('\x00'))
