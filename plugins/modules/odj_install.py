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
  - With O(installs), a whole batch (for example every machine of a rollout whose image sits on this host) is
    installed in one module run, each image on its own - own lock, atomic write and read-back check - so one
    failing image does not stop the others; the task fails at the end listing the images that failed
    (RV(failed_images)) and reports every item in RV(results).
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
      - Only a regular file (a symlink to one is followed) of at most 4 MiB is read; anything else is refused
        before it is read. A damaged package (one whose two copies of the join data disagree, or whose lengths
        and counts do not match its data) is refused.
      - An Ansible Vault encrypted file cannot be read on the target; pass its content through O(data) instead,
        for example with the P(ansible.builtin.unvault#lookup) lookup on a base64 file.
      - Exactly one of O(package), O(data) and O(installs) is required.
    type: path
  data:
    description:
      - The package itself, as one-line base64 text (what C(djoin /printblob) and the API text output give).
      - It holds the machine password in clear text, so it is never logged.
    type: str
  image:
    description:
      - A folder that holds C(Windows/), or a C(.wim) file.
      - A symlink is resolved; the real image is changed and locked, and the link stays a link.
      - Files taken out of a C(.wim) are staged in a private (0700) folder C(.winimage-work) beside it; the next
        run removes what a killed run left there.
      - Required with O(package) or O(data).
    type: path
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
      - The unattend pass for O(method=unattend). Not a secret (the name of a pass).
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
  vault_password:
    description:
      - The Ansible Vault password of an encrypted package (O(package) file or O(data)), as
        M(winimage.provisioning.odj_provision) writes with its O(winimage.provisioning.odj_provision#module:vault_password).
      - The package is decrypted in memory only. Never logged.
      - If not set, the environment variable E(WINIMAGE_VAULT_PASSWORD) is used (what the AWX credential type
        C(winimage.provisioning package vault) injects).
    type: str
  lock_timeout:
    description:
      - Seconds to wait for another install into the same image to finish (for each image of O(installs)).
    type: int
    default: 60
  netsetup_log:
    description:
      - Path of the NetSetup-style log this module appends one line per image to (machine, domain, image, method,
        what was done and the Windows status name, such as C(NERR_Success) or C(NERR_BadOfflineJoinInfo)); never a
        secret.
      - Default C(netsetup.log) in the folder that holds the image (the image folder's parent, or the C(.wim) file's
        folder). An empty string turns it off.
      - Nothing is logged in check mode. A log that cannot be written gives a warning, never a failure.
    type: path
  installs:
    description:
      - Many installs in one module run, one entry per image, processed in turn.
      - Each entry takes the options of a single install (exactly one of O(installs[].package) and O(installs[].data),
        and O(installs[].image)), validated the same way. Cannot be combined with those options at the top level.
      - Each package's machine password is kept out of the results, diffs, warnings and errors.
      - Several entries may name the same C(.wim) (different O(installs[].image_index)); each is written in turn.
    type: list
    elements: dict
    suboptions:
      package:
        description:
          - Path on the target of the package, in any of its three forms. See O(package).
        type: path
      data:
        description:
          - The package as one-line base64 text. Never logged. See O(data).
        type: str
      vault_password:
        description:
          - The Ansible Vault password of this entry's package. Never logged.
          - Default is O(vault_password).
        type: str
      image:
        description:
          - A folder that holds C(Windows/), or a C(.wim) file.
        type: path
        required: true
      image_index:
        description:
          - For a C(.wim), the image to change, by number (from 1) or by name.
        type: str
      method:
        description:
          - V(registry) or V(unattend), as O(method).
        type: str
        choices: [registry, unattend]
        default: registry
      unattend_pass:
        description:
          - The unattend pass for O(installs[].method=unattend).
        type: str
        choices: [offlineServicing, specialize]
        default: offlineServicing
      architecture:
        description:
          - The C(processorArchitecture) of the unattend component, as O(architecture).
        type: str
        choices: [amd64, x86, arm64]
      backup:
        description:
          - Keep a copy of the file being replaced beside it, as O(backup).
        type: bool
        default: false
      force:
        description:
          - Replace a pending join of another machine or domain already in this image, as O(force).
        type: bool
        default: false
      allow_dirty:
        description:
          - Write into a dirty SYSTEM hive without transaction logs, as O(allow_dirty).
        type: bool
        default: false
      skip_unsupported_parts:
        description:
          - Leave certificate, policy and unknown parts out with the registry method, as O(skip_unsupported_parts).
        type: bool
        default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - Keys and values before and after (registry), or the unattend text; the machine password is masked.
      - With O(installs), one diff per image.
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

- name: Install every machine's package into its image in one task (a batch)
  winimage.provisioning.odj_install:
    installs:
      - package: /srv/odj/KIOSK07.djoin
        image: /srv/images/kiosk07
      - package: /srv/odj/KIOSK08.djoin
        image: /srv/images/kiosk08
        force: true
      - data: "{{ lookup('ansible.builtin.unvault', 'files/kiosk09.b64.vault') | trim }}"
        image: /srv/images/install.wim
        image_index: 2
        method: unattend
        unattend_pass: specialize
  register: odj_batch
  ignore_errors: true

- name: Show the images that failed
  ansible.builtin.debug:
    msg: "{{ odj_batch.results | selectattr('failed') | map(attribute='error') | list }}"
'''

RETURN = r'''
image:
  description: The image changed.
  returned: without O(installs)
  type: dict
  sample: {type: wim, path: /srv/images/install.wim, image_index: 2, image_name: Windows 11 Enterprise}
method:
  description: The method used.
  returned: without O(installs)
  type: str
  sample: registry
machine_name:
  description: The machine name of the package.
  returned: without O(installs)
  type: str
  sample: KIOSK-07
domain:
  description: The DNS domain of the package.
  returned: without O(installs)
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
omitted_parts:
  description:
    - Non-essential join provider 3 / 4 parts (the account's RID, SID and GUID) the registry method does not write,
      as no Windows reference shows how Windows keeps them in the hive; the join does not need them.
  returned: when the registry method left such parts out
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
results:
  description:
    - With O(installs), one entry per item, in the order of O(installs).
    - No entry holds a package or a machine password.
  returned: with O(installs)
  type: list
  elements: dict
  contains:
    image:
      description: The image path of the item (O(installs[].image)).
      type: str
      sample: /srv/images/kiosk07
    image_index:
      description: The O(installs[].image_index) of the item, or null.
      type: str
    image_name:
      description: The name of the C(.wim) image changed, or null for a folder.
      type: str
    machine:
      description: The machine name of the item's package; null when the package could not be read.
      type: str
      sample: KIOSK-07
    domain:
      description: The DNS domain of the item's package.
      type: str
    method:
      description: The method of the item.
      type: str
      sample: registry
    changed:
      description: Whether this image was changed (or would be, in check mode).
      type: bool
    failed:
      description: Whether this item failed.
      type: bool
    error:
      description: Why this item failed (the message a single install would fail with), else null.
      type: str
    control_set:
      description: The control set written (registry method).
      type: str
    hive:
      description: The SYSTEM hive written (registry method).
      type: str
    unattend:
      description: The unattend file written (unattend method).
      type: str
    architecture:
      description: The processor architecture of the unattend component (unattend method).
      type: str
    backup_file:
      description: The backup made with O(installs[].backup).
      type: str
    skipped_parts:
      description: Package parts the registry method left out.
      type: list
      elements: dict
    omitted_parts:
      description: Non-essential join provider 3 / 4 parts the registry method does not write.
      type: list
      elements: dict
failed_images:
  description: With O(installs), the images (with C(#index) for a C(.wim) image) whose install failed.
  returned: with O(installs)
  type: list
  elements: str
  sample: [/srv/images/install.wim#2]
counts:
  description: With O(installs), how many items there were, changed, unchanged and failed.
  returned: with O(installs)
  type: dict
  sample: {total: 3, changed: 2, unchanged: 0, failed: 1}
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.winimage.provisioning.plugins.module_utils.common.options import env

try:
    from ansible_collections.winimage.provisioning.plugins.module_utils.image.access import module_runner
    from ansible_collections.winimage.provisioning.plugins.module_utils.image.install import (
        InstallError,
        install,
        install_batch,
        load_package,
        package_secret,
    )
    from ansible_collections.winimage.provisioning.plugins.module_utils.common.netapi_errors import code_of
    from ansible_collections.winimage.provisioning.plugins.module_utils.common.netsetup_log import (
        MIN_SECRET_LENGTH, log_for, log_operation,
    )
    IMPORT_ERROR = None
except ImportError as exc:  # regipy missing on the target, for instance
    IMPORT_ERROR = exc

SINGLE = ('package', 'data', 'image', 'image_index', 'method', 'unattend_pass', 'architecture', 'backup', 'force',
          'allow_dirty', 'skip_unsupported_parts')


def install_options():
    """The options of one install: the top level of a single install, and each item of installs."""
    return dict(
        package=dict(type='path'),
        data=dict(type='str', no_log=True),
        image=dict(type='path'),
        image_index=dict(type='str'),
        method=dict(type='str', default='registry', choices=['registry', 'unattend']),
        unattend_pass=dict(type='str', default='offlineServicing', choices=['offlineServicing', 'specialize'], no_log=False),
        architecture=dict(type='str', choices=['amd64', 'x86', 'arm64']),
        backup=dict(type='bool', default=False),
        force=dict(type='bool', default=False),
        allow_dirty=dict(type='bool', default=False),
        skip_unsupported_parts=dict(type='bool', default=False),
        vault_password=dict(type='str', no_log=True),
    )


def log_install(module, secrets, image, machine, domain, method, changed, error=None):
    """One NetSetup log line for one image (nothing in check mode); never fails the task."""
    if module.check_mode or image is None:
        return
    if error is None:
        status, done = 0, 'join state installed' if changed else 'the same join state was already installed'
    elif machine is None:
        status, done = code_of('NERR_BadOfflineJoinInfo'), error
    else:
        status, done = code_of('NERR_CantCreateJoinInfo'), error
    log = log_for(module.params['netsetup_log'], 'requester', image=image, program='odj_install',
                  secrets=[secret for secret in secrets if secret and len(secret) >= MIN_SECRET_LENGTH])
    asked = {'machine': machine, 'domain': domain, 'image': image, 'method': method}
    warning = log_operation(log, 'install', asked, done, status)
    if warning:
        module.warn(warning)


def run_batch(module):
    params = module.params
    secrets = []

    def hide(secret):
        module.no_log_values.add(secret)
        secrets.append(secret)

    results, diffs, warnings = install_batch(
        params['installs'], check_mode=module.check_mode, lock_timeout=float(params['lock_timeout']),
        run_command=module_runner(module), hide=hide, vault_password=params['vault_password'])
    for warning in warnings:
        module.warn(warning)
    for r in results:
        log_install(module, secrets, r['image'], r['machine'], r['domain'], r['method'], r['changed'], r['error'])
    failed = [r for r in results if r['failed']]
    result = dict(changed=any(r['changed'] for r in results), results=results,
                  failed_images=[r['image'] + ('#%s' % r['image_index'] if r['image_index'] else '') for r in failed],
                  counts=dict(total=len(results), changed=sum(1 for r in results if r['changed']), failed=len(failed),
                              unchanged=sum(1 for r in results if not r['changed'] and not r['failed'])))
    if module._diff:
        result['diff'] = diffs
    if failed:
        module.fail_json(msg='%d of %d images failed: %s' % (len(failed), len(results), '; '.join(
            '%s: %s' % (name, r['error']) for name, r in zip(result['failed_images'], failed))), **result)
    module.exit_json(**result)


def main():
    spec = install_options()
    item = install_options()
    item['image']['required'] = True
    spec.update(
        installs=dict(type='list', elements='dict', options=item, mutually_exclusive=[('package', 'data')],
                      required_one_of=[('package', 'data')]),
        lock_timeout=dict(type='int', default=60),
        netsetup_log=dict(type='path'),
    )
    spec['vault_password'] = dict(spec['vault_password'], fallback=env('WINIMAGE_VAULT_PASSWORD'))
    module = AnsibleModule(
        argument_spec=spec,
        mutually_exclusive=[('package', 'data')] + [('installs', name) for name in SINGLE],
        required_one_of=[('package', 'data', 'installs')],
        required_by=dict(package=('image',), data=('image',)),
        supports_check_mode=True,
    )
    if IMPORT_ERROR is not None:
        module.fail_json(msg='winimage.provisioning.odj_install needs the regipy Python package and libhivex0: %s'
                             % to_native(IMPORT_ERROR))
    params = module.params
    if params['installs'] is not None:
        run_batch(module)
    try:
        raw, pd = load_package(data=params['data'], path=params['package'], vault_password=params['vault_password'])
    except InstallError as exc:
        log_install(module, [], params['image'], None, None, params['method'], False, to_native(exc))
        module.fail_json(msg=to_native(exc))
    password = package_secret(pd)
    if password:
        module.no_log_values.add(password)
    machine, domain = pd.win7.machine_name, pd.win7.dns_domain_info.dns_domain_name
    try:
        result = install(
            params['image'], raw, pd, image_index=params['image_index'], method=params['method'],
            unattend_pass=params['unattend_pass'], architecture=params['architecture'], backup=params['backup'],
            force=params['force'], allow_dirty=params['allow_dirty'], skip_unsupported_parts=params['skip_unsupported_parts'],
            check_mode=module.check_mode, lock_timeout=float(params['lock_timeout']), run_command=module_runner(module))
    except InstallError as exc:
        log_install(module, [password], params['image'], machine, domain, params['method'], False, to_native(exc))
        module.fail_json(msg=to_native(exc))
    log_install(module, [password], params['image'], machine, domain, params['method'], result['changed'])
    warnings = result.pop('warnings', [])
    for warning in warnings:
        module.warn(warning)
    diff = result.pop('diff', None)
    if module._diff and diff is not None:
        result['diff'] = diff
    module.exit_json(**result)


if __name__ == '__main__':
    main()
