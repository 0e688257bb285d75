# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Take the pending join (and its machine secret) out of an offline image, in memory.

Used by the pre-flight check (odj_verify_secret): the secret is handed to the
caller inside a ``JoinSecret`` whose repr masks it, and never written anywhere.
Reads through the requester engine (_image for folders and .wim staging,
image.hivex and image.registry for the SYSTEM hive, image.unattend for AccountData).
"""

from __future__ import annotations

import os

from ansible_collections.winimage.provisioning.plugins.module_utils.image.hivex import Hive, HivexError, decode_value
from ansible_collections.winimage.provisioning.plugins.module_utils.image.access import (
    SYSTEM_REL,
    UNATTEND_REL,
    ImageError,
    open_image,
)
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.load import PackageLoadError, load_package
from ansible_collections.winimage.provisioning.plugins.module_utils.image.registry import (
    OFFLINE_JOIN,
    SECRET_VALUE,
    HivexReader,
    NotSystemHiveError,
    control_set_name,
    read_pending,
)
from ansible_collections.winimage.provisioning.plugins.module_utils.image.unattend import UnattendError, find_account_data, read_unattend


class JoinSecretError(Exception):
    """No usable pending join in the image (the message names the image and what is missing)."""


class JoinSecret(object):
    """A pending join found in an image. ``secret`` is the machine password; repr never shows it."""

    def __init__(self, image, source, machine_name, domain, netbios_domain, dc_name, dc_address, secret, state=None):
        self.image = image
        self.state = state or {}
        self.source = source
        self.machine_name = machine_name
        self.domain = domain
        self.netbios_domain = netbios_domain
        self.dc_name = _strip_unc(dc_name)
        self.dc_address = _strip_unc(dc_address)
        self.secret = secret

    def __repr__(self):
        return 'JoinSecret(source=%r, machine_name=%r, domain=%r, secret=%s)' % (
            self.source, self.machine_name, self.domain, '********' if self.secret else 'None')


def _strip_unc(value):
    if not value:
        return None
    return value.lstrip('\\') or None


def _from_registry(system, described):
    try:
        with Hive(system) as hive:
            reader = HivexReader(hive)
            control_set = control_set_name(reader)
            pending = read_pending(reader, control_set)
            if not pending:
                return None
            item = (reader.values('%s\\%s' % (control_set, OFFLINE_JOIN)) or {}).get(SECRET_VALUE.lower())
    except (HivexError, NotSystemHiveError) as exc:
        raise JoinSecretError('%s: %s' % (system, exc))
    secret = None
    if item is not None:
        secret = decode_value(item[1], bytes(item[2])) if isinstance(item[2], (bytes, bytearray)) else item[2]
        if isinstance(secret, str):
            secret = secret.split('\x00')[0]
    if not secret:
        raise JoinSecretError('%s: the pending join of %s holds no machine secret (%s\\%s is empty)'
                              % (described['path'], pending.get('machine_name'), OFFLINE_JOIN, SECRET_VALUE))
    dc = pending.get('dc') or {}
    return JoinSecret(described, 'registry', pending.get('machine_name'), pending.get('domain'),
                      pending.get('netbios_domain'), dc.get('name'), dc.get('address'), secret, state=pending)


def _from_unattend(path, described):
    try:
        found = find_account_data(read_unattend(path), path)
    except UnattendError as exc:
        raise JoinSecretError(str(exc))
    for pass_name, _arch, b64 in found:
        try:
            pd = load_package(data=b64, where='%s: the AccountData of pass %s' % (path, pass_name)).pd
        except PackageLoadError as exc:
            raise JoinSecretError(str(exc))
        w7 = pd.win7
        state = {'location': UNATTEND_REL, 'pass': pass_name, 'architecture': _arch, 'machine_name': w7.machine_name,
                 'domain': w7.dns_domain_info.dns_domain_name, 'dc': {'name': w7.dc_info.dc_name, 'address': w7.dc_info.dc_address},
                 'parts': [p.type_name for p in pd.parts], 'clear_text_secret_present': bool(w7.machine_password)}
        return JoinSecret(described, 'unattend', w7.machine_name, w7.dns_domain_info.dns_domain_name,
                          w7.dns_domain_info.name, w7.dc_info.dc_name, w7.dc_info.dc_address, w7.machine_password,
                          state=state)
    return None


def read_join_secret(image_path, image_index=None, source='auto', runner=None):
    """The pending join of an image with its secret (JoinSecret); JoinSecretError when there is none.

    runner: the command runner for wimlib-imagex (see _image.set_default_runner; modules pass module_runner).
    """
    try:
        image = open_image(image_path, image_index, runner=runner)
        described = image.describe()
        with image.staging() as staging:
            found = None
            if source in ('auto', 'registry'):
                system = staging.path(SYSTEM_REL)
                if system and os.path.isfile(system):
                    found = _from_registry(system, described)
                elif source == 'registry':
                    raise JoinSecretError('%s has no SYSTEM hive (%s)' % (image_path, SYSTEM_REL))
            if found is None and source in ('auto', 'unattend'):
                path = staging.path(UNATTEND_REL)
                if path and os.path.isfile(path):
                    found = _from_unattend(path, described)
    except ImageError as exc:
        raise JoinSecretError(str(exc))
    if found is None:
        where = {'auto': 'in its SYSTEM hive nor in its unattend.xml', 'registry': 'in its SYSTEM hive',
                 'unattend': 'in its unattend.xml'}[source]
        raise JoinSecretError('%s carries no pending offline domain join %s (was the package installed?)'
                              % (image_path, where))
    return found
