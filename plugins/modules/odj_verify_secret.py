#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: odj_verify_secret
short_description: Prove that the machine secret in an offline image authenticates as NAME$ against the DC
version_added: 0.1.0
description:
  - The pre-flight check of an offline domain join, before the image first boots.
  - Reads the pending join an offline Windows image carries (a folder holding C(Windows/), or one image of a C(.wim)),
    from the SYSTEM hive (C(Lsa\OfflineJoin)) or from the C(AccountData) of C(Windows/Panther/unattend.xml), takes the
    machine password out of it in memory, and checks that it authenticates as C(NAME$).
  - The check is the one M(winimage.provisioning.odj_provision) makes for existing packages - a Kerberos AS exchange
    (C(kinit NAME$@REALM)) against the DC, which only the account's B(current) password passes. Only when the krb5 user
    tools are missing, an LDAP bind as C(NAME$) (NTLM over a sealed or TLS connection, chosen as O(tls_mode) says);
    a DC still accepts the previous password there for up to an hour after a reset.
  - Success proves that the computer account in the directory and the image agree - the image will
    complete its join at first boot. A refusal means the account's password changed since the package was made
    (a stale image), or the account is missing or disabled.
  - The secret is never returned, logged or put into an error message; only whether it authenticated.
  - Read only; neither the image nor the directory is changed.
author:
  - winimage.provisioning contributors (@winimage)
requirements:
  - C(kinit) (krb5 user tools) on the target for the Kerberos check; else ldap3 and pyspnego for the LDAP bind
extends_documentation_fragment:
  - winimage.provisioning.image
  - winimage.provisioning.ad_connection
  - winimage.provisioning.attributes.read_only
options:
  images:
    description:
      - Check many images in one task (a whole fleet), instead of O(image). Up to four images are checked at a time.
      - The module fails when any image fails, listing every failed one; RV(results) holds each image's outcome.
    type: list
    elements: dict
    suboptions:
      image:
        description: A folder that holds C(Windows/), or a C(.wim) file.
        type: path
        required: true
      image_index:
        description: For a C(.wim), the image by number or name.
        type: str
      machine_name:
        description: The machine the image must be joined as.
        type: str
  source:
    description:
      - Where the secret is read. V(auto) takes the registry when the SYSTEM hive carries a pending join, else the
        unattend C(AccountData).
    type: str
    choices: [auto, registry, unattend]
    default: auto
  machine_name:
    description:
      - The machine the image of O(image) must be joined as. A pending join of another machine fails.
      - Without it, whichever machine the image carries is checked.
    type: str
  domain:
    description:
      - The domain the image must be joined to, by its DNS name or its NetBIOS name (compared without case or a
        trailing dot). A pending join to another domain fails.
    type: str
  domain_server:
    description:
      - DC name or address to check against (its KDC, or its LDAP service for the fallback).
      - By default the DC the package was made against (its address, else its name).
      - If not set, the environment variable E(WINIMAGE_DOMAIN_SERVER) is used.
    type: str
    aliases: [domain_controller, dc_name]
  timeout:
    description:
      - Seconds to wait for the DC.
    type: int
    default: 10
  netsetup_log:
    description:
      - Path of the NetSetup-style log this module appends one line per image to (what was checked, the
        result and its Windows status name); never a secret.
      - Default C(/var/log/winimage-provisioning/netsetup.log). An empty string turns it off.
      - Nothing is logged in check mode. A log that cannot be written gives a warning, never a failure.
    type: path
notes:
  - The machine password never crosses the wire readable - Kerberos pre-authentication sends no password, and the
    LDAP fallback binds with NTLM inside TLS or a sealed SASL layer.
  - O(domain_username) and O(domain_password) are not used - the check authenticates as the machine itself.
seealso:
  - module: winimage.provisioning.odj_image_info
  - module: winimage.provisioning.odj_install
'''

EXAMPLES = r'''
- name: Pre-flight - the secret in the image authenticates as KIOSK07$
  winimage.provisioning.odj_verify_secret:
    image: /srv/images/kiosk07
    machine_name: KIOSK07
    domain: corp.example.com
    ca_cert: /etc/pki/corp-ca.pem

- name: Pre-flight of a whole fleet in one task
  winimage.provisioning.odj_verify_secret:
    images:
      - {image: /srv/images/kiosk07, machine_name: KIOSK07}
      - {image: /srv/images/fleet.wim, image_index: 2, machine_name: KIOSK08}
    domain: corp.example.com
  register: preflight

- name: Same for an image of a .wim, against a given DC
  winimage.provisioning.odj_verify_secret:
    image: /srv/images/fleet.wim
    image_index: 3
    domain_server: dc2.corp.example.com
'''

RETURN = r'''
authenticated:
  description: Whether the secret found in the image (with O(images), in every image) authenticated as C(NAME$).
  returned: always
  type: bool
  sample: true
results:
  description:
    - With O(images), one entry per image, in order - C(image), C(machine_name), C(domain), C(account), C(source),
      C(domain_controller), C(authenticated), and C(msg) when it failed. Never the secret.
  returned: when O(images) is given
  type: list
  elements: dict
  sample: [{image: {type: folder, path: /srv/images/kiosk07}, machine_name: KIOSK07, authenticated: true}]
machine_name:
  description: The machine of the pending join found in the image.
  returned: when a pending join was found
  type: str
  sample: KIOSK07
domain:
  description: The DNS domain of the pending join.
  returned: when a pending join was found
  type: str
  sample: corp.example.com
connection:
  description:
    - How the secret was checked - C(transport) (V(kerberos) for the AS exchange with the DC's KDC, else
      V(ldaps), V(start_tls) or V(sasl)), C(auth) (V(kerberos) or V(ntlm)), C(server) and C(port).
    - With O(images), in each entry of RV(results).
  returned: when a check was made
  type: dict
  sample: {transport: kerberos, auth: kerberos, server: 10.0.0.10, port: 88}
account:
  description: The account the check authenticated as.
  returned: when a pending join was found
  type: str
  sample: KIOSK07$@CORP.EXAMPLE.COM
state:
  description:
    - The pending join as the image holds it, without the secret - for the registry the same facts as
      M(winimage.provisioning.odj_image_info) reports (C(location), C(machine_name), C(domain), C(dc), C(parts), ...),
      for unattend C(location), C(pass), C(architecture), C(machine_name), C(domain), C(dc), C(parts).
  returned: when a pending join was found
  type: dict
  sample: {location: 'HKLM\SYSTEM\ControlSet001\Control\Lsa\OfflineJoin', machine_name: KIOSK07, domain: corp.example.com}
source:
  description: Where the secret was read - V(registry) or V(unattend).
  returned: when a pending join was found
  type: str
  sample: registry
domain_controller:
  description: The DC the bind went to (as given or as named in the package).
  returned: when a pending join was found
  type: str
  sample: 10.0.0.10
image:
  description: The image read.
  returned: always
  type: dict
  sample: {type: folder, path: /srv/images/kiosk07}
'''

import concurrent.futures
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

try:
    from ansible_collections.winimage.provisioning.plugins.module_utils.ad.errors import ADError
    from ansible_collections.winimage.provisioning.plugins.module_utils.ad.options import CONNECTION_ARGUMENT_SPEC, client_options
    from ansible_collections.winimage.provisioning.plugins.module_utils.ad.secret import verify_secret
    from ansible_collections.winimage.provisioning.plugins.module_utils.image.access import module_runner
    from ansible_collections.winimage.provisioning.plugins.module_utils.odj.decide import describe_join, same_join
    from ansible_collections.winimage.provisioning.plugins.module_utils.image.join_secret import JoinSecretError, read_join_secret
    from ansible_collections.winimage.provisioning.plugins.module_utils.common.netsetup_log import MIN_SECRET_LENGTH, log_for, log_operation
    from ansible_collections.winimage.provisioning.plugins.module_utils.common.netapi_errors import code_of
    IMPORT_ERROR = None
except ImportError as exc:
    IMPORT_ERROR = exc


# Windows status codes for the NetSetup log (names from the shared NERR_/Win32 table)
STATUS_LOGON_FAILURE = code_of('ERROR_LOGON_FAILURE')            # the secret does not authenticate
STATUS_NO_SUCH_DOMAIN = code_of('ERROR_NO_SUCH_DOMAIN')          # no DC could be reached
STATUS_INVALID_PARAMETER = code_of('ERROR_INVALID_PARAMETER')    # the image is for another machine or domain
STATUS_NO_JOIN = code_of('NERR_NoOfflineJoinInfo')               # the image carries no usable join state

# images of a batch checked at once
BATCH_WORKERS = 4


def _log(module, log, result):
    """One NetSetup log line for one image's pre-flight; returns result without its private status."""
    status = result.pop('_status', 0 if result.get('authenticated') else 1)
    asked = {'image': result.get('image', {}).get('path'), 'machine': result.get('machine_name'),
             'domain': result.get('domain'), 'dc': result.get('domain_controller')}
    done = 'the image secret authenticates as %s' % result.get('account') if result.get('authenticated') \
        else result.get('msg', 'pre-flight failed')
    warning = log_operation(log, 'preflight', asked, done, status)
    if warning:
        module.warn(warning)
    return result


def _verify(entry, params, runner, log=None):
    """Check one image; returns a secret-free result dict with 'authenticated' and, on failure, 'msg'."""
    image_path = entry['image']
    result = dict(authenticated=False, image={'path': image_path})
    try:
        found = read_join_secret(image_path, entry.get('image_index'), params['source'], runner=runner)
    except JoinSecretError as exc:
        result['msg'] = to_native(exc)
        result['_status'] = STATUS_NO_JOIN
        return result
    if log is not None and found.secret and len(found.secret) >= MIN_SECRET_LENGTH:
        # shorter ones are default passwords, which equal the machine name the log names anyway
        log.register_secret(found.secret)
    result['image'] = found.image
    result.update(machine_name=found.machine_name, domain=found.domain, source=found.source, state=found.state)
    # the machine and domain asked for (each defaults to the image's own), compared as every join decision does
    domains = (found.domain, found.netbios_domain)
    wanted = (entry.get('machine_name') or found.machine_name, params['domain'] or domains)
    if not same_join(wanted[0], wanted[1], found.machine_name, domains):
        result['msg'] = '%s carries a pending join of %s, not of %s' % (
            image_path, describe_join(found.machine_name, domains), describe_join(*wanted))
        result['_status'] = STATUS_INVALID_PARAMETER
        return result
    server = params['domain_server'] or found.dc_address or found.dc_name
    if not server:
        result['msg'] = '%s names no domain controller; set domain_server' % image_path
        result['_status'] = STATUS_NO_SUCH_DOMAIN
        return result
    realm = found.domain.upper()
    sam = '%s$' % found.machine_name.upper()
    account = '%s@%s' % (sam, realm)
    result.update(account=account, domain_controller=server)
    try:
        ldap = client_options(params, found.domain)
        ldap.update(server=server, server_name=None if params['domain_server'] else (found.dc_name or None),
                    username=None, password=None)
        ok, how = verify_secret(sam, found.secret, realm, server, run_command=runner, ldap=ldap)
        result['connection'] = (dict(transport='kerberos', auth='kerberos', server=server, port=88) if how == 'kerberos'
                                else dict(transport=None, auth='ntlm', server=server, port=None))
        result['authenticated'] = ok
        if not ok:
            result['msg'] = ('the secret in %s does not authenticate as %s against %s: the computer account is missing or '
                             'disabled, or its password changed since the package was made (a stale image; run the '
                             'provisioner and the requester again)' % (image_path, account, server))
            result['_status'] = STATUS_LOGON_FAILURE
    except ADError as exc:
        result['msg'] = 'pre-flight of %s against %s: %s' % (image_path, server, to_native(exc))
        result['_status'] = STATUS_NO_SUCH_DOMAIN
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            image=dict(type='path'),
            image_index=dict(type='str'),
            machine_name=dict(type='str'),
            images=dict(type='list', elements='dict', options=dict(
                image=dict(type='path', required=True),
                image_index=dict(type='str'),
                machine_name=dict(type='str'),
            )),
            source=dict(type='str', default='auto', choices=['auto', 'registry', 'unattend']),
            domain=dict(type='str'),
            timeout=dict(type='int', default=10),
            netsetup_log=dict(type='path'),
            **CONNECTION_ARGUMENT_SPEC
        ),
        required_one_of=[('image', 'images')],
        mutually_exclusive=[('image', 'images'), ('images', 'image_index'), ('images', 'machine_name')],
        supports_check_mode=True,
    )
    if IMPORT_ERROR is not None:
        module.fail_json(msg='winimage.provisioning.odj_verify_secret needs ldap3, regipy and libhivex0: %s'
                             % to_native(IMPORT_ERROR), authenticated=False)
    params = module.params
    log = None if module.check_mode else log_for(params['netsetup_log'], 'target', program='odj_verify_secret')
    if params['ca_cert'] and not os.path.isfile(params['ca_cert']):
        module.fail_json(msg='ca_cert %s does not exist' % params['ca_cert'], authenticated=False)
    if params['image'] is not None:
        result = _log(module, log, _verify(params, params, module_runner(module), log))
        msg = result.pop('msg', None)
        if msg:
            module.fail_json(msg=msg, changed=False, **result)
        module.exit_json(changed=False, **result)
    # images are independent (each its own read and its own check): a few at a time
    runner = module_runner(module)
    with concurrent.futures.ThreadPoolExecutor(max_workers=BATCH_WORKERS) as pool:
        checked = list(pool.map(lambda entry: _verify(entry, params, runner, log), params['images']))
    results = []
    for entry, one in zip(params['images'], checked):
        one = _log(module, log, one)
        if entry.get('machine_name') and not one.get('machine_name'):
            one['machine_name'] = entry['machine_name'].upper()
        results.append(one)
    bad = [r for r in results if not r['authenticated']]
    if bad:
        module.fail_json(msg='%d of %d image(s) failed the pre-flight: %s' % (
            len(bad), len(results), '; '.join(r.get('msg', '') for r in bad)),
            changed=False, authenticated=False, results=results)
    module.exit_json(changed=False, authenticated=True, results=results)


if __name__ == '__main__':
    main()
