# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install an offline domain join package into an offline Windows image (the requester).

plan -> check/diff -> write -> verify:

* registry method: the SYSTEM hive is loaded with libhivex (after replaying
  its transaction logs when it is dirty), the join state Windows' install
  call writes (``image.registry``) is written into the control set named by Select\\Current, the
  whole hive is committed to a temporary file beside the original, that file
  is read back with regipy (a parser independent of libhivex) and every value
  written is compared; only then is it fsynced and renamed over the hive. On
  any mismatch the original is left in place and the install fails.
* unattend method: AccountData (the one-line base64 of the whole package) is
  merged into Windows/Panther/unattend.xml, other content kept.
* a .wim image: the same, on files taken out of the image with wimlib; the
  changed files go back with ``wimlib-imagex update`` into a copy of the
  .wim, are extracted again and compared, and the copy replaces the .wim.

Idempotent: the same package already installed reports changed=False. A
pending join of another machine is only replaced with force.
"""

from __future__ import annotations

import os

from ansible_collections.winimage.provisioning.plugins.module_utils.common.atomic import (
    atomic_write,
    backup_file,
    remove_stale_temps,
    replace_from,
    temp_path_beside,
)
from ansible_collections.winimage.provisioning.plugins.module_utils.image.hive_log import (
    DirtyHiveError,
    HiveFormatError,
    prepare,
    read_header,
)
from ansible_collections.winimage.provisioning.plugins.module_utils.image.hivex import Hive, HivexError, REG_SZ, decode_value
from ansible_collections.winimage.provisioning.plugins.module_utils.image.access import (
    SYSTEM_REL,
    UNATTEND_REL,
    ImageError,
    locked,
    open_image,
    scratch,
    sha256_file,
)
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.decide import (
    JoinConflict,
    decide_install,
    package_join,
    pending_join,
)
from ansible_collections.winimage.provisioning.plugins.module_utils.image.registry import (
    MASK,
    HivexReader,
    NotSystemHiveError,
    RegipyReader,
    RegistryRouteError,
    compare,
    control_set_name,
    owned_keys,
    plan_entries,
    SECRET_VALUE,
    omitted_parts,
    read_pending,
    snapshot,
    unsupported_parts,
)
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import load as odj_load
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.ndr import OdjFormatError
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_base64
from ansible_collections.winimage.provisioning.plugins.module_utils.image.unattend import (
    UnattendError,
    find_account_data,
    merge,
    normalize_arch,
    read_unattend,
)


class InstallError(Exception):
    """The install failed; the image is as it was (message says why)."""


def _inject(opts, point, path):
    """Call the fault injector a test passed for this point (``faults`` option), if any."""
    injector = (opts.get('faults') or {}).get(point)
    if injector is not None:
        injector(path)


def _key_dump(hive_reader, key):
    """{(key, name): (type, bytes)} of every value below key (recursive), plus key markers."""
    out = {}
    values = hive_reader.values(key)
    if values is None:
        return out
    out[(key, None)] = None
    for _lower, (name, vtype, data) in values.items():
        out[(key, name)] = (vtype, data)
    for sub in hive_reader.subkeys(key) or []:
        out.update(_key_dump(hive_reader, key + '\\' + sub))
    return out


def _owned_extras(reader, entries, control_set):
    """Values or keys inside the keys the join state owns that the plan does not hold."""
    planned = set((e.key.lower(), (e.name or '').lower() if e.name is not None else None) for e in entries)
    planned_keys = set(e.key.lower() for e in entries)
    extras = []
    for key in owned_keys(control_set):
        for (k, name) in _key_dump(reader, key):
            if name is None:
                if k.lower() not in planned_keys:
                    extras.append(k)
            elif (k.lower(), name.lower()) not in planned:
                extras.append('%s\\%s' % (k, name))
    return extras


def _diff_text(snap):
    lines = []
    for (key, name), value in sorted(snap.items()):
        if value is not None:
            lines.append('%s\\%s = %r' % (key, name, value))
    return '\n'.join(lines) + ('\n' if lines else '')


def _mask_all_account_data(text):
    if not text:
        return text or ''
    try:
        for _p, _a, value in find_account_data(text):
            if value:
                text = text.replace(value, MASK)
    except UnattendError:
        pass
    return text


def image_arch(staging, image):
    """Processor architecture of the image: SYSTEM hive's Environment, else the .wim's XML data."""
    system = staging.path(SYSTEM_REL)
    if system and os.path.isfile(system):
        try:
            with Hive(system) as hive:
                reader = HivexReader(hive)
                cs = control_set_name(reader)
                env = reader.values(cs + '\\Control\\Session Manager\\Environment') or {}
                item = env.get('processor_architecture')
                if item is not None and item[1] == REG_SZ:
                    arch = normalize_arch(decode_value(item[1], item[2]))
                    if arch:
                        return arch
        except (HivexError, NotSystemHiveError, ValueError):
            pass
    return normalize_arch(getattr(image, 'wim_arch', None))


# ---------------------------------------------------------------- registry method

def _install_registry(image, staging, pd, opts, result):
    system = staging.path(SYSTEM_REL)
    if system is None or not os.path.isfile(system):
        raise InstallError('%s: no SYSTEM hive at %s' % (image.path, SYSTEM_REL))
    image.check_writable([system])
    result['hive'] = staging.rel(system) if image.kind == 'wim' else system
    remove_stale_temps(system, '.odj')
    with scratch(image, 'odj-') as work:
        _install_registry_in(image, staging, pd, opts, result, system, work)


def _install_registry_in(image, staging, pd, opts, result, system, work):
    """Write the join state into the hive (work: a private folder for the replayed hive)."""
    try:
        state = prepare(system, os.path.join(work, 'replayed'), allow_dirty=opts['allow_dirty'])
    except (HiveFormatError, DirtyHiveError) as exc:
        raise InstallError(str(exc))
    result['dirty'] = state['dirty']
    result['replayed_logs'] = [os.path.basename(p) for p in state['logs']]
    result['replayed_pages'] = state['replayed_pages']
    if state['dirty_accepted']:
        result['warnings'].append('%s was dirty and had no transaction logs; written back clean as allowed by '
                                  'allow_dirty (changes only the missing logs held are lost)' % system)
    try:
        hive = Hive(state['source'], write=True)
    except HivexError as exc:
        raise InstallError(str(exc))
    with hive:
        reader = HivexReader(hive)
        try:
            control_set = control_set_name(reader)
            entries = plan_entries(pd, control_set, skip_unsupported=opts['skip_unsupported_parts'])
            skipped = unsupported_parts(pd)
        except NotSystemHiveError as exc:
            raise InstallError('%s: %s' % (system, exc))
        except RegistryRouteError as exc:
            raise InstallError(str(exc))
        except OdjFormatError as exc:  # an encrypted part collection, or parts that cannot be placed
            raise InstallError('the package cannot be installed by the registry method: %s' % exc)
        result['control_set'] = control_set
        omitted = omitted_parts(pd)
        if omitted:
            result['omitted_parts'] = omitted
        if skipped:
            result['skipped_parts'] = skipped
            result['warnings'].append('not installed by the registry method (skip_unsupported_parts): %s'
                                      % ', '.join(s['label'] for s in skipped))
        pending = read_pending(reader, control_set)
        problems = compare(entries, reader)
        secret_same = pending is not None and not any(p['name'] == SECRET_VALUE for p in problems)
        try:
            decide_install(pending_join(pending) if pending is not None else None, package_join(pd), secret_same,
                           force=opts['force'])
        except JoinConflict as exc:
            raise InstallError('%s holds a pending offline join for machine %s: %s'
                               % (system, pending.get('machine_name'), exc))
        before = snapshot(entries, reader)
        extras = _owned_extras(reader, entries, control_set)
        result['diff'] = {'before_header': '%s (%s)' % (SYSTEM_REL, image.path), 'after_header': '%s (%s)' % (SYSTEM_REL, image.path),
                          'before': _diff_text(before),
                          'after': _diff_text(dict(((e.key, e.name), e.shown()) for e in entries if e.name is not None))}
        result['entries'] = [e.as_dict() for e in entries]
        if not problems and not extras and not state['dirty']:
            result['changed'] = False
            return
        result['changed'] = True
        if opts['check_mode']:
            return
        for key in owned_keys(control_set):
            node = hive.navigate(key)
            if node is not None:
                hive.delete_child(node)
        node_cache = {}
        for entry in entries:
            node = node_cache.get(entry.key)
            if node is None:
                node = node_cache[entry.key] = hive.navigate(entry.key, create=True)
            if entry.name is not None:
                from ansible_collections.winimage.provisioning.plugins.module_utils.image.hivex import encode_value
                hive.set_value(node, entry.name, entry.vtype, encode_value(entry.vtype, entry.value))
        tmp = temp_path_beside(system, suffix='.odj')
        try:
            hive.commit(tmp)
            _inject(opts, 'hive_written', tmp)
            _verify_hive(tmp, entries, system)
            if opts['backup'] and image.kind == 'folder':
                result['backup_file'] = backup_file(system)
            replace_from(tmp, system)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    # Logs that were replayed now describe an older hive: keep them aside, out of Windows' way.
    for log in state['logs']:
        aside = log + '.replayed'
        os.replace(log, aside)
        staging.renamed.append((staging.rel(log), staging.rel(aside)))
    staging.changed.append(staging.rel(system))


def _verify_hive(path, entries, original):
    try:
        header = read_header(path)
    except HiveFormatError as exc:
        raise InstallError('verification failed, %s was left unchanged: %s' % (original, exc))
    if header['dirty']:
        raise InstallError('verification failed, %s was left unchanged: the written hive is not clean' % original)
    try:
        problems = compare(entries, RegipyReader(path))
    except Exception as exc:  # regipy raises many kinds of parse errors
        raise InstallError('verification failed, %s was left unchanged: regipy cannot read the written hive: %s'
                           % (original, exc))
    if problems:
        raise InstallError('verification failed, %s was left unchanged: regipy reads back %d value(s) that differ '
                           'from what was written: %s' % (original, len(problems), '; '.join(
                               '%s\\%s: %s' % (p['key'], p['name'] or '', p['problem']) for p in problems[:5])))


# ---------------------------------------------------------------- unattend method

def _install_unattend(image, staging, raw, opts, result):
    b64 = to_base64(raw)
    arch = normalize_arch(opts.get('architecture')) or image_arch(staging, image)
    if arch is None:
        raise InstallError('%s: the processor architecture of the image is unknown (no PROCESSOR_ARCHITECTURE in the '
                           'SYSTEM hive, none in the .wim data); set architecture' % image.path)
    result['architecture'] = arch
    path = staging.path(UNATTEND_REL)
    if path is None:
        panther = staging.path('Windows/Panther') or os.path.join(staging.path('Windows'), 'Panther')
        path = os.path.join(panther, 'unattend.xml')
    result['unattend'] = staging.rel(path) if image.kind == 'wim' else path
    text = None
    try:
        if os.path.isfile(path):
            text = read_unattend(path)
        new, changed, warnings = merge(text, b64, opts['unattend_pass'], arch, source=path)
    except UnattendError as exc:
        raise InstallError(str(exc))
    result['warnings'].extend(warnings)
    result['changed'] = changed
    result['diff'] = {'before_header': path, 'after_header': path,
                      'before': _mask_all_account_data(text), 'after': _mask_all_account_data(new)}
    if not changed or opts['check_mode']:
        return
    existing = path
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    image.check_writable([existing])
    if not os.path.isdir(os.path.dirname(path)):
        os.makedirs(os.path.dirname(path), mode=0o755)
    if opts['backup'] and image.kind == 'folder' and text is not None:
        result['backup_file'] = backup_file(path)
    atomic_write(path, new.encode('utf-8'), mode=0o600)
    with open(path, 'rb') as handle:
        back = handle.read().decode('utf-8')
    if (opts['unattend_pass'], b64) not in [(p, v) for p, _a, v in find_account_data(back, path)]:
        raise InstallError('verification failed: %s does not carry the AccountData after writing' % path)
    staging.changed.append(staging.rel(path))


# ---------------------------------------------------------------- entry points

DEFAULTS = {
    'method': 'registry', 'unattend_pass': 'offlineServicing', 'architecture': None, 'backup': False, 'force': False,
    'allow_dirty': False, 'skip_unsupported_parts': False, 'check_mode': False, 'lock_timeout': 60.0, 'image_index': None,
    'run_command': None,
    # tests' fault injectors: {'hive_written': callable(temporary hive path), 'wim_updated': callable(path)}
    'faults': None,
}


def install(image_path, raw, pd, **options):
    """Install the decoded package pd (raw: its bytes) into the image; returns the result dict."""
    opts = dict(DEFAULTS)
    opts.update(options)
    result = {'changed': False, 'method': opts['method'], 'warnings': [], 'machine_name': pd.win7.machine_name,
              'domain': pd.win7.dns_domain_info.dns_domain_name}
    try:
        image = open_image(image_path, opts['image_index'], runner=opts['run_command'])
        result['image'] = image.describe()
        with locked(image, timeout=opts['lock_timeout']):
            if image.kind == 'wim' and not opts['check_mode']:
                image.check_writable([])
                remove_stale_temps(image.path, '.wim')
            with image.staging() as staging:
                if opts['method'] == 'registry':
                    _install_registry(image, staging, pd, opts, result)
                elif opts['method'] == 'unattend':
                    _install_unattend(image, staging, raw, opts, result)
                else:
                    raise InstallError('method must be registry or unattend')
                if result['changed'] and not opts['check_mode']:
                    backup = image.commit(staging, backup=opts['backup'], faults=opts['faults'])
                    if backup:
                        result['backup_file'] = backup
    except (ImageError, HivexError) as exc:
        raise InstallError(str(exc))
    return result


def load_package(data=None, path=None, vault_password=None):
    """(raw, pd) from data (text) or a package file at path; InstallError naming the source when it is no package.

    Ansible Vault encrypted data or files are decrypted in memory with vault_password (see odj_load.load_package:
    size cap, regular files only, codec and cross-checks).
    """
    try:
        loaded = odj_load.load_package(data=data, path=path, vault_password=vault_password)
    except odj_load.PackageLoadError as exc:
        message = str(exc)
        if 'no vault password' in message:
            message += ' (set vault_password, or decrypt it on the controller, for example with the ' \
                       'winimage.provisioning.odj_unvault filter, and pass it as data)'
        raise InstallError(message)
    return loaded.raw, loaded.pd


def package_secret(pd):
    """The machine password to hide from output, or None (a defpwd package's password is the machine name)."""
    password = pd.win7.machine_password
    if password and password.lower() != (pd.win7.machine_name or '').lower():
        return password
    return None


ITEM_OPTIONS = ('image_index', 'method', 'unattend_pass', 'architecture', 'backup', 'force', 'allow_dirty',
                'skip_unsupported_parts')


def install_batch(items, check_mode=False, lock_timeout=60.0, run_command=None, hide=None, vault_password=None):
    """Install each item (dict: package or data, image, and the options of install) in turn.

    Every image is opened, locked, written atomically and verified on its own, as install() does; one failing
    item does not stop the others. hide(secret) is called with each package's password before anything runs for
    that item, so the caller can keep it out of every output. Returns (results, diffs, warnings), results in the
    order of items: image, image_index, machine, domain, method, changed, failed, error and what install() reports
    about where it wrote (control_set, hive, unattend, architecture, backup_file, skipped_parts).
    vault_password is the default of the items' own vault_password.
    """
    results, diffs, warnings = [], [], []
    for number, item in enumerate(items, start=1):
        entry = {'image': item.get('image'), 'image_index': item.get('image_index'), 'machine': None, 'domain': None,
                 'method': item.get('method') or DEFAULTS['method'], 'changed': False, 'failed': False, 'error': None}
        try:
            raw, pd = load_package(data=item.get('data'), path=item.get('package'),
                                   vault_password=item.get('vault_password') or vault_password)
            secret = package_secret(pd)
            if secret and hide is not None:
                hide(secret)
            entry['machine'] = pd.win7.machine_name
            entry['domain'] = pd.win7.dns_domain_info.dns_domain_name
            options = dict((k, item[k]) for k in ITEM_OPTIONS if item.get(k) is not None)
            result = install(item.get('image'), raw, pd, check_mode=check_mode, lock_timeout=lock_timeout,
                             run_command=run_command, **options)
        except InstallError as exc:
            entry.update(failed=True, error=str(exc))
        except Exception as exc:  # one image's unexpected trouble must not stop the others
            entry.update(failed=True, error='%s: %s: %s' % (item.get('image'), type(exc).__name__, exc))
        else:
            entry['changed'] = result['changed']
            for key in ('control_set', 'hive', 'unattend', 'architecture', 'backup_file', 'skipped_parts', 'omitted_parts', 'dirty',
                        'replayed_logs'):
                if key in result:
                    entry[key] = result[key]
            entry['image_name'] = (result.get('image') or {}).get('image_name')
            warnings.extend('installs[%d] (%s): %s' % (number, item.get('image'), w) for w in result.get('warnings', []))
            diff = result.get('diff')
            if diff is not None:
                diff = dict(diff)
                diff['before_header'] = 'installs[%d] %s' % (number, diff.get('before_header', ''))
                diff['after_header'] = 'installs[%d] %s' % (number, diff.get('after_header', ''))
                diffs.append(diff)
        results.append(entry)
    return results, diffs, warnings


def image_info_batch(items, run_command=None):
    """image_info() for each item (dict: image, image_index); one unreadable image does not stop the others."""
    results = []
    for item in items:
        entry = {'image_path': item.get('image'), 'image_index': item.get('image_index'), 'failed': False,
                 'error': None}
        try:
            entry.update(image_info(item.get('image'), item.get('image_index'), run_command=run_command))
        except InstallError as exc:
            entry.update(failed=True, error=str(exc))
        except Exception as exc:  # an audit of many images reports each one's trouble
            entry.update(failed=True, error='%s: %s: %s' % (item.get('image'), type(exc).__name__, exc))
        results.append(entry)
    return results


def image_info(image_path, image_index=None, run_command=None):
    """Pending join state of an image (registry and unattend), without any secret."""
    try:
        image = open_image(image_path, image_index, runner=run_command)
    except ImageError as exc:
        raise InstallError(str(exc))
    info = {'image': image.describe(), 'registry': None, 'unattend': None, 'clear_text_secret_present': False,
            'warnings': []}
    try:
        with image.staging() as staging:
            system = staging.path(SYSTEM_REL)
            if system and os.path.isfile(system):
                try:
                    header = read_header(system)
                except HiveFormatError as exc:
                    raise InstallError(str(exc))
                reg = {'hive': SYSTEM_REL, 'dirty': header['dirty'], 'pending': None}
                try:
                    with Hive(system) as hive:
                        reader = HivexReader(hive)
                        reg['control_set'] = control_set_name(reader)
                        reg['pending'] = read_pending(reader, reg['control_set'])
                except (HivexError, NotSystemHiveError) as exc:
                    raise InstallError('%s: %s' % (system, exc))
                if header['dirty']:
                    info['warnings'].append('the SYSTEM hive is dirty: the state shown may miss changes held in its logs')
                if reg['pending'] and reg['pending']['clear_text_secret_present']:
                    info['clear_text_secret_present'] = True
                info['registry'] = reg
            info['architecture'] = image_arch(staging, image)
            path = staging.path(UNATTEND_REL)
            if path and os.path.isfile(path):
                entries = []
                try:
                    found = find_account_data(read_unattend(path), path)
                except UnattendError as exc:
                    found = []
                    info['warnings'].append(str(exc))
                for pass_name, arch, b64 in found:
                    item = {'pass': pass_name, 'architecture': arch, 'machine_name': None, 'domain': None,
                            'clear_text_secret_present': False, 'decodable': False}
                    try:
                        pd = odj_load.load_package(data=b64).pd
                        w7 = pd.win7
                        item.update({'machine_name': w7.machine_name, 'domain': w7.dns_domain_info.dns_domain_name,
                                     'dc': w7.dc_info.dc_name, 'decodable': True,
                                     'parts': [p.type_name for p in pd.parts],
                                     'clear_text_secret_present': bool(w7.machine_password)})
                    except Exception:  # a bad AccountData is reported, never fatal for an audit
                        info['warnings'].append('%s: AccountData in pass %s cannot be decoded' % (path, pass_name))
                    if item['clear_text_secret_present']:
                        info['clear_text_secret_present'] = True
                    entries.append(item)
                info['unattend'] = {'path': UNATTEND_REL, 'account_data': entries}
    except ImageError as exc:
        raise InstallError(str(exc))
    return info


def file_digest(path):
    return sha256_file(path)
