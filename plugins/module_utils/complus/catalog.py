# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""COM+ application import: every decision, in pure Python.

The Windows module (win_complus_import.ps1) only reads the catalog and carries
out a plan; this file decides. It holds:

* flag decoding: ``fModuleStatus`` / ``fComponentStatus`` values to names;
* HRESULT names (COMADMIN_E_*, common COM and HRESULT_FROM_WIN32 codes);
* option validation (:func:`validate_options`);
* the partition choice of ImportFromFile (MS-COMA 3.1.4.12.1, item 4) and the
  per-application collision rules (item 5) plus ``state`` / ``force`` /
  ``remote_server_name`` rules (:func:`resolve_partition`, :func:`plan`).

The spec treats every import failure alike, so nothing here parses an error
after the fact: the plan is made from the catalog before anything is imported.
"""

from __future__ import annotations

import re

from ansible_collections.winimage.provisioning.plugins.module_utils.common import netapi_errors as _netapi_errors
from ansible_collections.winimage.provisioning.plugins.module_utils.common.windows_path import is_windows_absolute, same_windows_path

GLOBAL_PARTITION_ID = '41E90F3E-56C1-4633-81C3-6E8BAC8BDD70'

# ImportFromFile wire flags (MS-COMA). Never passed to the local API.
WIRE_IMPORT_OVERWRITE = 0x1
WIRE_IMPORT_WITHUSERS = 0x10
# COMAdminCatalog.InstallApplication options (COMAdminApplicationInstallOptions).
INSTALL_NO_USERS = 0
INSTALL_USERS = 1
INSTALL_FORCE_OVERWRITE_OF_FILES = 2

MODULE_STATUS_FLAGS = (
    (0x1, 'LOADED'), (0x2, 'INSTANTIATE'), (0x4, 'SUPPORTCODE'), (0x8, 'CONTAINSCOMP'), (0x10, 'TYPELIB'),
    (0x20, 'SELFREG'), (0x40, 'SELFUNREG'), (0x80, 'LOADFAILED'), (0x100, 'DOESNOTEXIST'),
    (0x200, 'ALREADYINSTALLED'), (0x400, 'BADTYPELIB'), (0x2000, 'CUSTOMSUPPORTED'),
    (0x4000, 'CUSTOMUNSUPPORTED'), (0x8000, 'TYPELIBFAILED'), (0x10000, 'SELFREGFAILED'), (0x20000, 'CUSTOMFAILED'),
    # bits the local API (COMAdminFileFlags, GetMultipleComponentsInfo) adds to the MS-COMA set
    (0x800, 'GETCLASSOBJFAILED'), (0x1000, 'CLASSNOTAVAILABLE'), (0x40000, 'ERROR'),
)
MODULE_FAILURE_FLAGS = frozenset(['LOADFAILED', 'DOESNOTEXIST', 'BADTYPELIB', 'CUSTOMUNSUPPORTED', 'TYPELIBFAILED',
                                  'SELFREGFAILED', 'CUSTOMFAILED', 'GETCLASSOBJFAILED', 'CLASSNOTAVAILABLE', 'ERROR'])
COMPONENT_STATUS_FLAGS = (
    (0x1, 'TYPELIBFOUND'), (0x2, 'COMADATA'), (0x8, 'INTERFACES'), (0x10, 'INSTALLED'), (0x100, 'PROXY'),
    (0x200, 'CLSIDCONFLICT'), (0x800, 'NOTYPELIB'), (0x1000, 'HIDDEN'),
    # bits of the local API's COMAdminComponentFlags not in the MS-COMA set
    (0x4, 'PROXYFOUND'), (0x20, 'NOTINAPPLICATION'),
)

HRESULTS = {
    0x00000000: ('S_OK', 'Success.'),
    0x00000001: ('S_FALSE', 'Success (false).'),
    0x80004001: ('E_NOTIMPL', 'Not implemented.'),
    0x80004002: ('E_NOINTERFACE', 'No such interface supported.'),
    0x80004005: ('E_FAIL', 'Unspecified error.'),
    0x8000FFFF: ('E_UNEXPECTED', 'Catastrophic failure.'),
    0x80040154: ('REGDB_E_CLASSNOTREG', 'Class not registered.'),
    0x80110401: ('COMADMIN_E_OBJECTERRORS', 'Errors occurred accessing one or more objects; see the ErrorInfo collection.'),
    0x80110404: ('COMADMIN_E_ALREADYINSTALLED', 'The object is already installed.'),
    0x80110408: ('COMADMIN_E_APP_FILE_READFAIL', 'An error occurred reading the application file.'),
    0x80110409: ('COMADMIN_E_APP_FILE_VERSION', 'Invalid version number in the application file.'),
    0x8011040A: ('COMADMIN_E_BADPATH', 'The file path is invalid.'),
    0x8011040B: ('COMADMIN_E_APPLICATIONEXISTS', 'The application is already installed.'),
    0x8011040D: ('COMADMIN_E_CANTCOPYFILE', 'Failed to copy a file (does it exist already? use overwrite_files).'),
    0x8011040F: ('COMADMIN_E_NOUSER', 'One or more users are not valid.'),
    0x80110410: ('COMADMIN_E_INVALIDUSERIDS', 'One or more user IDs in the application file are not valid.'),
    0x80110414: ('COMADMIN_E_USERPASSWDNOTVALID', 'The user name or password for the run-as identity is not valid.'),
    0x8011041F: ('COMADMIN_E_APPDIRNOTFOUND', 'The application install directory was not found.'),
    0x80110438: ('COMADMIN_E_OBJECTEXISTS', 'The object already exists.'),
    0x80110439: ('COMADMIN_E_COMPONENTEXISTS', 'The component already exists.'),
    0x8011045B: ('COMADMIN_E_CAT_IMPORTED_COMPONENTS_NOT_ALLOWED', 'Imported components cannot be placed in a non-base partition.'),
    0x8011045C: ('COMADMIN_E_AMBIGUOUS_APPLICATION_NAME', 'More than one application has this name.'),
    0x80110482: ('COMADMIN_E_CAT_BITNESSMISMATCH', 'The component bitness does not match the catalog (32/64-bit mismatch).'),
    0x80110484: ('COMADMIN_E_CAT_WRONGAPPBITNESS', 'The application bitness does not match the component (32/64-bit mismatch).'),
    0x80110809: ('COMADMIN_E_OBJECT_DOES_NOT_EXIST', 'The object does not exist.'),
    0x8011080B: ('COMADMIN_E_INVALID_PARTITION', 'The partition is not valid.'),
    0x80110819: ('COMADMIN_E_PARTITION_MSI_ONLY', 'Applications in this partition can only be installed from an installer package.'),
    0x80110824: ('COMADMIN_E_PARTITIONS_DISABLED', 'Application partitions are disabled on this computer.'),
}

BUILTIN_IDENTITIES = ('interactive user', 'nt authority\\localservice', 'nt authority\\networkservice',
                      'nt authority\\system', 'nt authority\\local service', 'nt authority\\network service')

_GUID_RE = re.compile(r'^\{?([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\}?$')
_HOST_RE = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$')
_BAD_PATH_CHARS = set('<>"|?*')


class ComplusError(ValueError):
    """An option, a package or the catalog state does not allow the requested change."""


# ---------------------------------------------------------------- flags / HRESULTs

def flag_names(value, table):
    """Names of the bits set in value; unknown bits come back as 'UNKNOWN_0x...'."""
    value = int(value or 0) & 0xFFFFFFFF
    names = []
    rest = value
    for bit, name in table:
        if value & bit:
            names.append(name)
            rest &= ~bit
    if rest:
        names.append('UNKNOWN_0x%X' % rest)
    return names


def module_status_names(value):
    return flag_names(value, MODULE_STATUS_FLAGS)


def component_status_names(value):
    return flag_names(value, COMPONENT_STATUS_FLAGS)


def _hresult_value(value):
    if isinstance(value, str):
        text = value.strip()
        value = int(text, 16) if text.lower().startswith('0x') else int(text)
    return int(value) & 0xFFFFFFFF


def hresult_name(value):
    """COMADMIN_E_* / E_* / Win32 name of an HRESULT (signed or unsigned)."""
    code = _hresult_value(value)
    if code in HRESULTS:
        return HRESULTS[code][0]
    if code & 0xFFFF0000 == 0x80070000:
        err = _netapi_errors.lookup(code & 0xFFFF)
        if err is not None:
            return 'HRESULT_FROM_WIN32(%s)' % err.name
    return 'HRESULT_0x%08X' % code


def describe_hresult(value):
    """{'value': '0x8011040B', 'name': ..., 'message': ..., 'success': bool}."""
    code = _hresult_value(value)
    if code in HRESULTS:
        name, message = HRESULTS[code]
    elif code & 0xFFFF0000 == 0x80070000 and _netapi_errors.lookup(code & 0xFFFF) is not None:
        err = _netapi_errors.lookup(code & 0xFFFF)
        name, message = 'HRESULT_FROM_WIN32(%s)' % err.name, err.message
    else:
        name, message = 'HRESULT_0x%08X' % code, 'no description known for this code'
    return {'value': '0x%08X' % code, 'name': name, 'message': message, 'success': code & 0x80000000 == 0}


def decode_modules(raw_modules):
    """[{'name', 'status'}] -> [{'name', 'status': int, 'status_flags': [...], 'failed': bool}]."""
    out = []
    for item in raw_modules or []:
        names = module_status_names(item.get('status'))
        out.append({'name': item.get('name'), 'status': int(item.get('status') or 0), 'status_flags': names,
                    'failed': bool(MODULE_FAILURE_FLAGS.intersection(names))})
    return out


def component_hresult(component, error_info):
    """The HRESULT the catalog reported for a component: its ErrorInfo entry's (MajorRef/MinorRef = CLSID or ProgID), else None.

    COMAdminCatalog reports per-object failures only through the ErrorInfo collection; a component no entry
    names has no HRESULT to report (None, never a made-up S_OK).
    """
    if component.get('hresult') is not None:
        return component.get('hresult')
    keys = set()
    if component.get('clsid'):
        keys.add(normalize_guid(component['clsid']) or component['clsid'].lower())
    if component.get('name'):
        keys.add(component['name'].lower())
    for entry in error_info or []:
        for ref in (entry.get('major_ref'), entry.get('minor_ref'), entry.get('name')):
            if ref and (normalize_guid(ref) or ref.lower()) in keys:
                return entry.get('error_code')
    return None


def decode_components(raw_components, error_info=None):
    """[{'clsid', 'name', 'status', 'hresult'}] -> decoded, with flag names and the HRESULT's name (None when unknown)."""
    out = []
    for item in raw_components or []:
        value = component_hresult(item, error_info)
        unknown = {'value': None, 'name': None, 'message': None, 'success': True}
        hres = describe_hresult(value) if value is not None else unknown
        out.append({
            'clsid': normalize_guid(item.get('clsid')) if item.get('clsid') else item.get('clsid'),
            'name': item.get('name'),
            'status': int(item.get('status') or 0),
            'status_flags': component_status_names(item.get('status')),
            'hresult': hres['value'],
            'hresult_name': hres['name'],
            'hresult_message': hres['message'],
            'failed': not hres['success'],
        })
    return out


def install_options(with_users, overwrite_files):
    """The COMAdminCatalog.InstallApplication options value (not the wire flags)."""
    value = INSTALL_NO_USERS
    if with_users:
        value |= INSTALL_USERS
    if overwrite_files:
        value |= INSTALL_FORCE_OVERWRITE_OF_FILES
    return value


def wire_import_flags(with_users, overwrite_files):
    """The MS-COMA ImportFromFile flags for the same choice (for reference and reports)."""
    return (WIRE_IMPORT_WITHUSERS if with_users else 0) | (WIRE_IMPORT_OVERWRITE if overwrite_files else 0)


# ---------------------------------------------------------------- validation

def normalize_guid(value):
    """'{aBc...}' / 'abc...' -> 'ABC...' (no braces, upper case); None when not a GUID."""
    match = _GUID_RE.match((value or '').strip())
    return match.group(1).upper() if match else None


def _check_windows_path(name, value):
    if not is_windows_absolute(value):
        raise ComplusError('%s must be an absolute Windows path (C:\\...) or a UNC path (\\\\server\\share\\...), got %r'
                           % (name, value))
    rest = value[2:]
    bad = sorted(set(rest) & _BAD_PATH_CHARS)
    if bad:
        raise ComplusError('%s contains characters not allowed in a Windows path: %s' % (name, ' '.join(bad)))


def is_builtin_identity(user):
    return (user or '').strip().lower() in BUILTIN_IDENTITIES


def validate_options(params):
    """Check and normalise the module options; raise ComplusError naming the bad option.

    params: dict with src, path, destination, partition, with_users, overwrite_files,
    run_as_user, run_as_password, remote_server_name, state, force.
    """
    p = dict(params)
    state = p.get('state') or 'present'
    if state not in ('present', 'absent'):
        raise ComplusError("state must be 'present' or 'absent', got %r" % (state,))
    p['state'] = state
    src, path = p.get('src'), p.get('path')
    if bool(src) == bool(path):
        raise ComplusError('exactly one of src (a package on the controller) or path (a package on the target) is required')
    if path:
        _check_windows_path('path', path)
    if p.get('destination'):
        _check_windows_path('destination', p['destination'])

    partition = p.get('partition')
    if partition is not None:
        partition = partition.strip()
        if not partition:
            raise ComplusError('partition must be a partition ID (GUID) or a partition name, not empty')
        if len(partition) > 255:
            raise ComplusError('partition is longer than 255 characters')
    p['partition'] = partition

    user, password = p.get('run_as_user'), p.get('run_as_password')
    if password and not user:
        raise ComplusError('run_as_password was given without run_as_user')
    if user:
        user = user.strip()
        p['run_as_user'] = user
        if is_builtin_identity(user):
            if password:
                raise ComplusError('run_as_password must not be given for the built-in identity %r' % user)
        else:
            if '\\' not in user and '@' not in user:
                raise ComplusError("run_as_user must be 'DOMAIN\\user', '.\\user', 'user@domain' or a built-in identity "
                                   "(Interactive User, NT AUTHORITY\\LocalService, NetworkService, System), got %r" % user)
            if not password:
                raise ComplusError('run_as_password is required for the account %r: COM+ stores the password write-only, '
                                   'so it cannot be kept or checked later' % user)

    rsn = p.get('remote_server_name')
    if rsn is not None:
        rsn = rsn.strip().lstrip('\\')
        if not rsn or not _HOST_RE.match(rsn):
            raise ComplusError('remote_server_name must be a host name or FQDN, got %r' % p.get('remote_server_name'))
        p['remote_server_name'] = rsn

    if state == 'absent':
        given = [name for name in ('destination', 'run_as_user', 'remote_server_name') if p.get(name)]
        given += [name for name in ('with_users', 'overwrite_files') if p.get(name)]
        if given:
            raise ComplusError('%s only apply to state=present' % ', '.join(sorted(given)))
    p['with_users'] = bool(p.get('with_users'))
    p['overwrite_files'] = bool(p.get('overwrite_files'))
    p['force'] = bool(p.get('force'))
    return p


# ---------------------------------------------------------------- decisions

def _find_partition(partitions, wanted):
    guid = normalize_guid(wanted)
    if guid:
        return [x for x in partitions if normalize_guid(x.get('id')) == guid]
    return [x for x in partitions if (x.get('name') or '').lower() == wanted.lower()]


def resolve_partition(requested, package_partition_id, package_partition_name, partitions, partitions_enabled):
    """The target partition per ImportFromFile's rules.

    1. the partition set by the caller, if it is not the global partition;
    2. else the partition recorded in the package (ExportPartition packages);
    3. else the global partition.
    An existing partition must be changeable; a missing one can only be created
    when partitions are enabled. Returns a dict: id, name, source
    ('option' | 'package' | 'global'), create (bool), notes (list).
    """
    partitions = list(partitions or [])
    notes = []
    chosen = None
    if requested:
        found = _find_partition(partitions, requested)
        if len(found) > 1:
            raise ComplusError('partition %r matches %d partitions by name; give its ID instead' % (requested, len(found)))
        if found:
            if normalize_guid(found[0].get('id')) == GLOBAL_PARTITION_ID:
                notes.append('partition %r is the global partition; as in ImportFromFile the package\'s own partition, '
                             'if it records one, takes precedence' % requested)
            else:
                chosen = {'id': normalize_guid(found[0]['id']), 'name': found[0].get('name'), 'source': 'option',
                          'create': False, 'changeable': found[0].get('changeable', True)}
        else:
            guid = normalize_guid(requested)
            if not guid:
                raise ComplusError('no COM+ partition is named %r (known: %s); give an existing name or a partition ID'
                                   % (requested, ', '.join(sorted(x.get('name') or '' for x in partitions)) or 'none'))
            chosen = {'id': guid, 'name': package_partition_name if normalize_guid(package_partition_id) == guid else None,
                      'source': 'option', 'create': True, 'changeable': True}
    if chosen is None:
        pkg = normalize_guid(package_partition_id)
        if pkg and pkg != GLOBAL_PARTITION_ID:
            found = _find_partition(partitions, pkg)
            if found:
                chosen = {'id': pkg, 'name': found[0].get('name'), 'source': 'package', 'create': False,
                          'changeable': found[0].get('changeable', True)}
            else:
                chosen = {'id': pkg, 'name': package_partition_name, 'source': 'package', 'create': True, 'changeable': True}
    if chosen is None:
        found = _find_partition(partitions, GLOBAL_PARTITION_ID)
        chosen = {'id': GLOBAL_PARTITION_ID, 'name': found[0].get('name') if found else 'Base Application Partition',
                  'source': 'global', 'create': False, 'changeable': found[0].get('changeable', True) if found else True}

    if chosen['create']:
        if not partitions_enabled:
            raise ComplusError('partition %s does not exist and application partitions are disabled on the target '
                               '(COMADMIN_E_PARTITIONS_DISABLED); enable them or choose an existing partition' % chosen['id'])
        notes.append('partition %s does not exist and will be created' % chosen['id'])
    elif not chosen['changeable']:
        raise ComplusError('partition %s (%s) is not changeable (Changeable = N); it cannot receive applications'
                           % (chosen['id'], chosen['name']))
    chosen['notes'] = notes
    return chosen


def _same_text(a, b):
    return (a or '').strip().lower() == (b or '').strip().lower()


def install_method(package_app):
    """InstallPartition for a file ExportPartition wrote (it records a partition), else InstallApplication."""
    recorded = normalize_guid(package_app.get('partition_id'))
    return 'InstallPartition' if recorded and recorded != GLOBAL_PARTITION_ID else 'InstallApplication'


def _matching(existing, app, target):
    """(in the target partition, in other partitions, 'id' | 'name') for a package application.

    By application ID when the package records one (names are not unique); by name only when it does not.
    """
    wanted = normalize_guid(app.get('id'))
    if wanted:
        same = [x for x in existing if normalize_guid(x.get('id')) == wanted]
        how = 'id'
    else:
        same = [x for x in existing if _same_text(x.get('name'), app.get('name'))]
        how = 'name'
    in_target = [x for x in same if (normalize_guid(x.get('partition_id')) or GLOBAL_PARTITION_ID) == target]
    elsewhere = [x for x in same if (normalize_guid(x.get('partition_id')) or GLOBAL_PARTITION_ID) != target]
    return in_target, elsewhere, how


def report_keys(package_apps):
    """(application IDs, names) that pick the package's applications out of the catalog: the ID where the
    package records one, the name only for those that record none."""
    ids = sorted(set(normalize_guid(a.get('id')) for a in package_apps if normalize_guid(a.get('id'))))
    names = sorted(set(a.get('name') for a in package_apps if not normalize_guid(a.get('id')) and a.get('name')))
    return ids, names


def is_package_app(installed, ids, names):
    """True when an installed application (decode_applications form) is one of report_keys' picks."""
    return normalize_guid(installed.get('id')) in ids or installed.get('name') in names


def _differences(current, app, options):
    """What an installed application has that the import would change (the write-only password never counts)."""
    differs = []
    if bool(current.get('is_proxy')) != bool(app.get('is_proxy')):
        differs.append('is a %s on the target but the package holds a %s' % (
            'proxy' if current.get('is_proxy') else 'server application',
            'proxy' if app.get('is_proxy') else 'server application'))
    if app.get('is_proxy') and options.get('remote_server_name') and \
            not _same_text(current.get('server_name'), options['remote_server_name']):
        differs.append('points at server %r, not %r' % (current.get('server_name'), options['remote_server_name']))
    if options.get('run_as_user') and not app.get('is_proxy') and \
            not _same_text(current.get('identity'), options['run_as_user']):
        differs.append('runs as %r, not %r' % (current.get('identity'), options['run_as_user']))
    if options.get('destination') and current.get('directory') and \
            not same_windows_path(current.get('directory'), options['destination']):
        differs.append('is installed in %r, not %r' % (current.get('directory'), options['destination']))
    return differs


def plan(options, package, catalog):
    """Decide what importing (or removing) the package does, before anything happens.

    options: output of validate_options.
    package: {'applications': [{'name', 'is_proxy', 'has_users', 'partition_id', 'partition_name'}]}
    catalog: {'partitions': [{'id', 'name', 'changeable'}], 'partitions_enabled': bool,
              'applications': [{'id', 'name', 'partition_id', 'is_proxy', 'server_name', 'changeable', 'deleteable'}]}
    Returns {'changed', 'partition', 'applications': [...], 'steps': [...], 'warnings': [...],
             'install_options': int}; raises ComplusError when the change is not allowed.
    Step kinds: create_partition, select_partition (ICOMAdminCatalog2.CurrentPartition), remove (id,
    make_deletable), install (method: InstallApplication or InstallPartition).
    package applications: 'id' (the application ID the package records, when it does) decides which installed
    application is the same one; without it the name does.
    """
    apps = list((package or {}).get('applications') or [])
    if not apps:
        raise ComplusError('the package holds no COM+ application')
    state, force = options['state'], options['force']
    warnings = []
    first = apps[0]
    partition = resolve_partition(options.get('partition'), first.get('partition_id'), first.get('partition_name'),
                                  catalog.get('partitions'), catalog.get('partitions_enabled'))
    target = partition['id']

    if state == 'present':
        if options.get('remote_server_name'):
            non_proxy = [a['name'] for a in apps if not a.get('is_proxy')]
            if non_proxy:
                raise ComplusError('remote_server_name applies to application proxy packages only; %s is not a proxy '
                                   'package' % ', '.join(repr(n) for n in non_proxy))
        if options.get('run_as_user') and all(a.get('is_proxy') for a in apps):
            raise ComplusError('run_as_user does not apply to an application proxy package (the identity lives on the server)')
        if options.get('with_users') and not any(a.get('has_users') for a in apps):
            warnings.append('with_users is set but the package carries no role members')

    existing = list(catalog.get('applications') or [])
    decisions = []
    for app in apps:
        in_target, elsewhere, matched_by = _matching(existing, app, target)
        entry = {'name': app.get('name'), 'is_proxy': bool(app.get('is_proxy')), 'existing_id': None,
                 'matched_by': matched_by,
                 'other_partitions': sorted(set(normalize_guid(x.get('partition_id')) or '' for x in elsewhere)),
                 'new_id_expected': False, 'make_deletable': False}
        if len(in_target) > 1:
            raise ComplusError('%d applications named %r exist in partition %s (COMADMIN_E_AMBIGUOUS_APPLICATION_NAME) and '
                               'the package records no application ID to tell them apart; remove the duplicates first'
                               % (len(in_target), app.get('name'), target))
        current = in_target[0] if in_target else None
        if current:
            entry['existing_id'] = normalize_guid(current.get('id'))
        if state == 'absent':
            if not current:
                entry.update(decision='absent', reason='not installed in partition %s' % target)
            else:
                deletable = current.get('deleteable', True) and current.get('changeable', True)
                if not deletable and not force:
                    raise ComplusError('application %r (%s) is protected (Deleteable/Changeable = N); set force=true to '
                                       'make it deletable and remove it' % (app.get('name'), entry['existing_id']))
                entry.update(decision='remove', make_deletable=not deletable,
                             reason='installed in partition %s' % target)
        elif current:
            differs = _differences(current, app, options)
            if force:
                deletable = current.get('deleteable', True) and current.get('changeable', True)
                entry.update(decision='replace', make_deletable=not deletable,
                             reason='installed in partition %s; force replaces it' % target)
            elif differs:
                raise ComplusError('application %r already exists in partition %s (ID %s) and %s; importing would fail. '
                                   'Set force=true to shut it down, remove it and import the package again'
                                   % (app.get('name'), target, entry['existing_id'], '; '.join(differs)))
            else:
                entry.update(decision='unchanged', reason='already installed in partition %s (ID %s)' % (target, entry['existing_id']))
        else:
            entry.update(decision='import', reason='not installed in partition %s' % target)
            if elsewhere:
                entry['new_id_expected'] = True
                entry['reason'] += ('; the application exists in partition(s) %s: COM+ gives the imported one a new '
                                    'application ID' % ', '.join(entry['other_partitions']))
        decisions.append(entry)

    kinds = set(d['decision'] for d in decisions)
    if state == 'present' and 'unchanged' in kinds and kinds & set(['import', 'replace']):
        raise ComplusError('the package holds several applications and only some are installed (%s); an import installs '
                           'all of them and would fail on the installed ones: set force=true to replace them'
                           % ', '.join('%s: %s' % (d['name'], d['decision']) for d in decisions))

    # Order: everything that can fail without changing anything first (partition chosen, files checked by the
    # module's preconditions), then removals, then the import. COM+ catalog changes are not transactional:
    # a failure after a removal leaves the application removed.
    method = install_method(first)
    steps = []
    if state == 'present' and kinds & set(['import', 'replace']):
        if partition['create'] and method == 'InstallApplication':
            steps.append({'action': 'create_partition', 'id': partition['id'], 'name': partition['name'] or partition['id']})
        if method == 'InstallApplication' and partition['id'] != GLOBAL_PARTITION_ID:
            steps.append({'action': 'select_partition', 'id': partition['id']})
        for d in decisions:
            if d['decision'] == 'replace':
                steps.append({'action': 'remove', 'id': d['existing_id'], 'name': d['name'], 'make_deletable': d['make_deletable']})
        steps.append({'action': 'install', 'method': method, 'partition_id': partition['id'],
                      'options': install_options(options.get('with_users'), options.get('overwrite_files'))})
    elif state == 'absent':
        for d in decisions:
            if d['decision'] == 'remove':
                steps.append({'action': 'remove', 'id': d['existing_id'], 'name': d['name'], 'make_deletable': d['make_deletable']})

    return {
        'changed': bool(steps),
        'method': method,
        'partition': partition,
        'applications': decisions,
        'steps': steps,
        'warnings': warnings + partition['notes'],
        'install_options': install_options(options.get('with_users'), options.get('overwrite_files')),
        'wire_import_flags': wire_import_flags(options.get('with_users'), options.get('overwrite_files')),
    }


# ---------------------------------------------------------------- results

def decode_error_info(raw_errors):
    """ErrorInfo collection entries -> [{'name', 'major_ref', 'minor_ref', 'hresult', 'hresult_name', 'hresult_message'}]."""
    out = []
    for item in raw_errors or []:
        hres = describe_hresult(item.get('error_code') or 0)
        out.append({'name': item.get('name'), 'major_ref': item.get('major_ref'), 'minor_ref': item.get('minor_ref'),
                    'hresult': hres['value'], 'hresult_name': hres['name'], 'hresult_message': hres['message']})
    return out


def failure_message(operation, hresult, error_info=None, detail=None):
    """One message for a failed catalog call: operation, HRESULT name and number, per-object errors."""
    hres = describe_hresult(hresult)
    text = '%s failed: %s (%s): %s' % (operation, hres['name'], hres['value'], hres['message'])
    if detail:
        text += ' [%s]' % detail
    errors = decode_error_info(error_info)
    if errors:
        parts = ['%s: %s (%s)' % (e['name'] or e['major_ref'] or '?', e['hresult_name'], e['hresult']) for e in errors]
        text += ' Objects: ' + '; '.join(parts)
    return text


def decode_applications(raw_apps, partitions=None):
    """Installed applications as reported by the module -> normalised IDs plus partition names."""
    names = dict((normalize_guid(p.get('id')), p.get('name')) for p in partitions or [])
    out = []
    for app in raw_apps or []:
        partition = normalize_guid(app.get('partition_id')) or GLOBAL_PARTITION_ID
        out.append({'id': normalize_guid(app.get('id')) or app.get('id'), 'name': app.get('name'),
                    'partition_id': partition, 'partition_name': names.get(partition),
                    'is_proxy': bool(app.get('is_proxy')), 'server_name': app.get('server_name') or None,
                    'identity': app.get('identity'), 'directory': app.get('directory')})
    return out
