#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: odj_install
short_description: Install an offline domain join package into an offline Windows image from Linux
version_added: 0.1.0
description:
  - Does from Linux what C(djoin /requestODJ /windowspath) and C(NetRequestProvisioningPackageInstall) do on Windows,
    on an image that is not running, without mounting it.
  - The image is a folder that holds C(Windows/) (an applied or mounted image), or one image of a C(.wim) file.
  - With O(method=registry) the join state is written into the image's SYSTEM hive with libhivex, read back with
    regipy (an independent parser) and compared value by value before the new hive replaces the old one.
  - With O(method=unattend) the package is merged as C(AccountData) into C(Windows/Panther/unattend.xml),
    keeping every other setting and component already in the file.
  - Every write is atomic (temporary file beside the original, fsync, rename) and holds a lock file beside the
    image (C(<image>.winimage.lock)); a second install into the same image waits up to O(lock_timeout) seconds.
    On any error the image is left exactly as it was.
  - A C(.wim) is changed through C(wimlib-imagex update) on a copy of it, verified by extracting the files again,
    then renamed over the original; other images in the C(.wim) are not touched.
author:
  - winimage.provisioning contributors (@winimage)
requirements:
  - libhivex0 (C(libhivex.so.0)) on the target
  - regipy Python package on the target
  - wimtools (C(wimlib-imagex)) for C(.wim) images
options:
  package:
    description:
      - Path on the target of the provisioning package, in any of its three forms (raw, one-line base64, or the
        C(djoin /savefile) form). Detected automatically.
      - An Ansible Vault encrypted file cannot be read on the target; pass its content through O(data) instead,
        for example with the P(ansible.builtin.unvault#lookup) lookup on a base64 file.
      - Exactly one of O(package) and O(data) is required.
    type: path
  data:
    description:
      - The package itself, as one-line base64 text (what C(djoin /printblob) and the API text output give).
      - It holds the machine password in clear text, so it is never logged.
    type: str
  image:
    description:
      - A folder that holds C(Windows/), or a C(.wim) file.
    type: path
    required: true
  image_index:
    description:
      - For a C(.wim), the image to change, by number (from 1) or by name. Required when the C(.wim) holds more
        than one image.
    type: str
  method:
    description:
      - V(registry) writes the join state into C(Windows/System32/config/SYSTEM), as Windows' install call does.
        Certificate and policy parts cannot be placed this way (where Windows keeps them is not documented); a
        package holding them fails unless O(skip_unsupported_parts=true).
      - V(unattend) merges the whole package as C(AccountData) of component C(Microsoft-Windows-UnattendedJoin) into
        C(Windows/Panther/unattend.xml); Windows completes the join during setup.
    type: str
    choices: [registry, unattend]
    default: registry
  unattend_pass:
    description:
      - The unattend pass for O(method=unattend).
    type: str
    choices: [offlineServicing, specialize]
    default: offlineServicing
  architecture:
    description:
      - The C(processorArchitecture) of the unattend component. By default taken from the image (the SYSTEM hive's
        C(PROCESSOR_ARCHITECTURE), else the C(.wim) XML data).
    type: str
    choices: [amd64, x86, arm64]
  backup:
    description:
      - Keep a copy of the file being replaced (the SYSTEM hive, the unattend file, or the whole C(.wim)) beside it.
    type: bool
    default: false
  force:
    description:
      - Replace a pending join of another machine or domain already in the image.
      - Without it that case fails; a pending join of the same machine is updated.
    type: bool
    default: false
  allow_dirty:
    description:
      - Write into a dirty SYSTEM hive (primary and secondary sequence numbers differ) whose transaction logs
        (C(SYSTEM.LOG1), C(SYSTEM.LOG2)) are not beside it. The changes only the logs held are lost and the hive is
        written back clean. With the logs present they are replayed first and this is not needed.
    type: bool
    default: false
  skip_unsupported_parts:
    description:
      - With O(method=registry), install the domain join of a package that also holds certificate, policy or unknown
        parts, leaving those parts out (listed in RV(skipped_parts)).
    type: bool
    default: false
  lock_timeout:
    description:
      - Seconds to wait for another install into the same image to finish.
    type: int
    default: 60
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Keys and values before and after (registry), or the unattend text; the machine password is masked.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - Inferred, not confirmed on a booted image, for O(method=registry) - the join provider 2 values in C(OfflineJoin),
    the C(Rid)/C(Sid) values of the join provider 3 part's C(Data) key, and C(JoinOptions=0).
seealso:
  - module: winimage.provisioning.odj_image_info
'''

EXAMPLES = r'''
- name: Join an applied image to the domain at first boot (registry method)
  winimage.provisioning.odj_install:
    package: /srv/odj/kiosk07.djoin
    image: /srv/images/kiosk07

- name: Put the package into image 2 of a wim as unattend AccountData
  winimage.provisioning.odj_install:
    package: /srv/odj/kiosk07.djoin
    image: /srv/images/install.wim
    image_index: Windows 11 Enterprise
    method: unattend
    unattend_pass: specialize
    backup: true

- name: Install a vault-protected package (base64 form) without writing it to the target
  winimage.provisioning.odj_install:
    data: "{{ lookup('ansible.builtin.unvault', 'files/kiosk07.b64.vault') | trim }}"
    image: /srv/images/kiosk07
    force: true
'''

RETURN = r'''
image:
  description: The image changed.
  returned: always
  type: dict
  sample: {type: wim, path: /srv/images/install.wim, image_index: 2, image_name: Windows 11 Enterprise}
method:
  description: The method used.
  returned: always
  type: str
  sample: registry
machine_name:
  description: The machine name of the package.
  returned: always
  type: str
  sample: KIOSK-07
domain:
  description: The DNS domain of the package.
  returned: always
  type: str
  sample: corp.example.test
control_set:
  description: The control set written, from C(Select\Current).
  returned: method is registry
  type: str
  sample: ControlSet001
hive:
  description: The SYSTEM hive (a path, or the path inside the C(.wim)).
  returned: method is registry
  type: str
entries:
  description: Every key and value of the join state, in write order; the machine password shown as C(********).
  returned: method is registry
  type: list
  elements: dict
  sample: [{key: ControlSet001\Control\Lsa\OfflineJoin, name: MachineName, type: REG_SZ, value: KIOSK-07}]
dirty:
  description: Whether the SYSTEM hive was dirty before the install.
  returned: method is registry
  type: bool
replayed_logs:
  description: Transaction logs replayed into the hive; they are renamed to C(<log>.replayed) afterwards.
  returned: method is registry
  type: list
  elements: str
skipped_parts:
  description: Package parts the registry method left out (with O(skip_unsupported_parts)).
  returned: when parts were skipped
  type: list
  elements: dict
unattend:
  description: The unattend file written.
  returned: method is unattend
  type: str
architecture:
  description: The processor architecture used for the unattend component.
  returned: method is unattend
  type: str
  sample: amd64
backup_file:
  description: The backup made with O(backup).
  returned: changed and backup is true
  type: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

try:
    from ansible_collections.winimage.provisioning.plugins.module_utils._image import module_runner
    from ansible_collections.winimage.provisioning.plugins.module_utils._odj_install import InstallError, install
    from ansible_collections.winimage.provisioning.plugins.module_utils._odj_package import decode
    from ansible_collections.winimage.provisioning.plugins.module_utils._odj_text import to_raw
    IMPORT_ERROR = None
except ImportError as exc:  # regipy missing on the target, for instance
    IMPORT_ERROR = exc


def read_package(module):
    if module.params['data'] is not None:
        source = module.params['data'].strip()
        where = 'data'
    else:
        where = module.params['package']
        try:
            with open(where, 'rb') as handle:
                source = handle.read()
        except (IOError, OSError) as exc:
            module.fail_json(msg='package %s cannot be read: %s' % (where, to_native(exc.strerror or exc)))
        if source.startswith(b'$ANSIBLE_VAULT'):
            module.fail_json(msg='package %s is Ansible Vault encrypted; decrypt it on the controller and pass it as data '
                                 '(for example data: "{{ lookup(\'ansible.builtin.unvault\', ...) }}" on a base64 file)' % where)
    try:
        raw = to_raw(source)
        pd = decode(raw)
        pd.win7  # pylint: disable=pointless-statement
    except ValueError as exc:
        module.fail_json(msg='package %s is not a valid offline domain join package: %s' % (where, to_native(exc)))
    return raw, pd


def main():
    module = AnsibleModule(
        argument_spec=dict(
            package=dict(type='path'),
            data=dict(type='str', no_log=True),
            image=dict(type='path', required=True),
            image_index=dict(type='str'),
            method=dict(type='str', default='registry', choices=['registry', 'unattend']),
            unattend_pass=dict(type='str', default='offlineServicing', choices=['offlineServicing', 'specialize']),
            architecture=dict(type='str', choices=['amd64', 'x86', 'arm64']),
            backup=dict(type='bool', default=False),
            force=dict(type='bool', default=False),
            allow_dirty=dict(type='bool', default=False),
            skip_unsupported_parts=dict(type='bool', default=False),
            lock_timeout=dict(type='int', default=60),
        ),
        mutually_exclusive=[('package', 'data')],
        required_one_of=[('package', 'data')],
        supports_check_mode=True,
    )
    if IMPORT_ERROR is not None:
        module.fail_json(msg='winimage.provisioning.odj_install needs the regipy Python package and libhivex0: %s'
                             % to_native(IMPORT_ERROR))
    raw, pd = read_package(module)
    password = pd.win7.machine_password
    # a defpwd package's password is the machine name, which results must still show
    if password and password.lower() != (pd.win7.machine_name or '').lower():
        module.no_log_values.add(password)
    params = module.params
    try:
        result = install(
            params['image'], raw, pd, image_index=params['image_index'], method=params['method'],
            unattend_pass=params['unattend_pass'], architecture=params['architecture'], backup=params['backup'],
            force=params['force'], allow_dirty=params['allow_dirty'], skip_unsupported_parts=params['skip_unsupported_parts'],
            check_mode=module.check_mode, lock_timeout=float(params['lock_timeout']), run_command=module_runner(module))
    except InstallError as exc:
        module.fail_json(msg=to_native(exc))
    warnings = result.pop('warnings', [])
    for warning in warnings:
        module.warn(warning)
    diff = result.pop('diff', None)
    if module._diff and diff is not None:
        result['diff'] = diff
    module.exit_json(**result)


if __name__ == '__main__':
    main()
