# -*- coding: utf-8 -*-
"""COM+ import decisions, flags and HRESULTs (plugins/module_utils/complus/catalog.py)."""

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.complus import catalog as c
from ansible_collections.winimage.provisioning.plugins.module_utils.complus.catalog import ComplusError

GLOBAL = c.GLOBAL_PARTITION_ID
SALES = '0A1B2C3D-1111-2222-3333-444455556666'
HR = 'ABCDEF01-2345-6789-ABCD-EF0123456789'
APP_ID = '{6A5C2D4E-0000-4000-8000-00000000A001}'
OTHER_ID = '{6A5C2D4E-0000-4000-8000-00000000B002}'


def opts(**kw):
    base = {'src': '/tmp/orders.msi', 'state': 'present'}
    base.update(kw)
    return c.validate_options(base)


def pkg(name='Orders', is_proxy=False, has_users=True, partition_id=None, partition_name=None, more=()):
    apps = [{'name': name, 'is_proxy': is_proxy, 'has_users': has_users, 'partition_id': partition_id,
             'partition_name': partition_name}]
    apps.extend(more)
    return {'applications': apps}


def catalog(apps=(), partitions=None, enabled=True):
    if partitions is None:
        partitions = [{'id': '{%s}' % GLOBAL.lower(), 'name': 'Base Application Partition', 'changeable': True},
                      {'id': '{%s}' % SALES, 'name': 'Sales', 'changeable': True},
                      {'id': '{%s}' % HR, 'name': 'HR', 'changeable': False}]
    return {'partitions': partitions, 'partitions_enabled': enabled, 'applications': list(apps)}


def app(name='Orders', app_id=APP_ID, partition=GLOBAL, is_proxy=False, server_name=None, deleteable=True, changeable=True):
    return {'id': app_id, 'name': name, 'partition_id': '{%s}' % partition, 'is_proxy': is_proxy,
            'server_name': server_name, 'deleteable': deleteable, 'changeable': changeable}


# ------------------------------------------------------------------ flags and HRESULTs

def test_module_flags():
    assert c.module_status_names(0) == []
    assert c.module_status_names(0x1 | 0x8 | 0x20) == ['LOADED', 'CONTAINSCOMP', 'SELFREG']
    assert c.module_status_names(0x20000 | 0x10000) == ['SELFREGFAILED', 'CUSTOMFAILED']
    assert c.module_status_names(0x80000 | 0x1) == ['LOADED', 'UNKNOWN_0x80000']
    assert c.module_status_names(0x800 | 0x40000) == ['GETCLASSOBJFAILED', 'ERROR']
    every = 0
    for bit, dummy in c.MODULE_STATUS_FLAGS:
        every |= bit
    assert len(c.module_status_names(every)) == 19
    decoded = c.decode_modules([{'name': 'C:\\x\\orders.dll', 'status': 0x81}, {'name': 'ok.dll', 'status': 0x9}])
    assert decoded[0] == {'name': 'C:\\x\\orders.dll', 'status': 0x81, 'status_flags': ['LOADED', 'LOADFAILED'], 'failed': True}
    assert decoded[1]['failed'] is False


def test_component_flags():
    assert c.component_status_names(0x1 | 0x2 | 0x8 | 0x10) == ['TYPELIBFOUND', 'COMADATA', 'INTERFACES', 'INSTALLED']
    assert c.component_status_names(0x100 | 0x200 | 0x800 | 0x1000) == ['PROXY', 'CLSIDCONFLICT', 'NOTYPELIB', 'HIDDEN']
    assert c.component_status_names(0x4 | 0x20) == ['PROXYFOUND', 'NOTINAPPLICATION']
    assert c.component_status_names(0x40) == ['UNKNOWN_0x40']
    comps = c.decode_components([
        {'clsid': '{1e4b3c7a-0000-4000-8000-000000000001}', 'name': 'Orders.Order', 'status': 0x1b, 'hresult': 0},
        {'clsid': '1E4B3C7A-0000-4000-8000-000000000002', 'name': 'Orders.Broken', 'status': 0x200, 'hresult': -2146368455},
    ])
    assert comps[0]['clsid'] == '1E4B3C7A-0000-4000-8000-000000000001'
    assert comps[0]['status_flags'] == ['TYPELIBFOUND', 'COMADATA', 'INTERFACES', 'INSTALLED']
    assert (comps[0]['hresult'], comps[0]['hresult_name']) == ('0x00000000', 'S_OK')
    assert (comps[1]['hresult'], comps[1]['hresult_name']) == ('0x80110439', 'COMADMIN_E_COMPONENTEXISTS')
    assert comps[1]['status_flags'] == ['CLSIDCONFLICT']


@pytest.mark.parametrize('value, name', [
    (0x80110401, 'COMADMIN_E_OBJECTERRORS'), (0x80110404, 'COMADMIN_E_ALREADYINSTALLED'),
    (0x80110408, 'COMADMIN_E_APP_FILE_READFAIL'), (0x80110409, 'COMADMIN_E_APP_FILE_VERSION'),
    (0x8011040A, 'COMADMIN_E_BADPATH'), (0x8011040B, 'COMADMIN_E_APPLICATIONEXISTS'),
    (0x8011040D, 'COMADMIN_E_CANTCOPYFILE'), (0x8011040F, 'COMADMIN_E_NOUSER'),
    (0x80110410, 'COMADMIN_E_INVALIDUSERIDS'), (0x80110414, 'COMADMIN_E_USERPASSWDNOTVALID'),
    (0x8011041F, 'COMADMIN_E_APPDIRNOTFOUND'), (0x80110438, 'COMADMIN_E_OBJECTEXISTS'),
    (0x80110439, 'COMADMIN_E_COMPONENTEXISTS'), (0x8011045B, 'COMADMIN_E_CAT_IMPORTED_COMPONENTS_NOT_ALLOWED'),
    (0x8011045C, 'COMADMIN_E_AMBIGUOUS_APPLICATION_NAME'), (0x80110482, 'COMADMIN_E_CAT_BITNESSMISMATCH'),
    (0x80110484, 'COMADMIN_E_CAT_WRONGAPPBITNESS'), (0x80110809, 'COMADMIN_E_OBJECT_DOES_NOT_EXIST'),
    (0x8011080B, 'COMADMIN_E_INVALID_PARTITION'), (0x80110819, 'COMADMIN_E_PARTITION_MSI_ONLY'),
    (0x80110824, 'COMADMIN_E_PARTITIONS_DISABLED'),
    ('0x80070005', 'HRESULT_FROM_WIN32(ERROR_ACCESS_DENIED)'), (-2147024809, 'HRESULT_FROM_WIN32(ERROR_INVALID_PARAMETER)'),
    (0x80004005, 'E_FAIL'), (0x8BADF00D, 'HRESULT_0x8BADF00D'), ('0', 'S_OK'),
])
def test_hresult_names(value, name):
    assert c.hresult_name(value) == name
    assert c.describe_hresult(value)['name'] == name


def test_describe_hresult_success_bit():
    assert c.describe_hresult(0)['success'] is True
    fail = c.describe_hresult(0x8011040B)
    assert fail['success'] is False and fail['value'] == '0x8011040B' and 'already installed' in fail['message']


def test_install_options_are_not_wire_flags():
    assert c.install_options(False, False) == 0
    assert c.install_options(True, False) == 1
    assert c.install_options(False, True) == 2
    assert c.install_options(True, True) == 3
    assert c.wire_import_flags(True, True) == 0x11
    assert c.wire_import_flags(False, True) == 0x1
    assert c.wire_import_flags(True, False) == 0x10


# ------------------------------------------------------------------ option validation

@pytest.mark.parametrize('params, message', [
    ({}, 'exactly one of src'),
    ({'src': 'a.msi', 'path': 'C:\\a.msi'}, 'exactly one of src'),
    ({'path': 'a.msi'}, 'path must be an absolute Windows path'),
    ({'path': '/tmp/a.msi'}, 'path must be an absolute Windows path'),
    ({'path': 'C:\\pkg\\a?.msi'}, 'not allowed in a Windows path: ?'),
    ({'src': 'a.msi', 'destination': 'relative\\dir'}, 'destination must be an absolute'),
    ({'src': 'a.msi', 'partition': '  '}, 'partition must be a partition ID'),
    ({'src': 'a.msi', 'partition': 'x' * 256}, 'longer than 255'),
    ({'src': 'a.msi', 'run_as_password': 'pw'}, 'run_as_password was given without run_as_user'),
    ({'src': 'a.msi', 'run_as_user': 'svc-orders', 'run_as_password': 'pw'}, "run_as_user must be 'DOMAIN"),
    ({'src': 'a.msi', 'run_as_user': 'CORP\\svc-orders'}, 'run_as_password is required'),
    ({'src': 'a.msi', 'run_as_user': 'NT AUTHORITY\\NetworkService', 'run_as_password': 'pw'}, 'must not be given for the built-in'),
    ({'src': 'a.msi', 'remote_server_name': 'bad name'}, 'remote_server_name must be a host name'),
    ({'src': 'a.msi', 'state': 'gone'}, "state must be 'present' or 'absent'"),
    ({'src': 'a.msi', 'state': 'absent', 'with_users': True, 'destination': 'D:\\apps'}, 'destination, with_users only apply to state=present'),
])
def test_validate_options_rejects(params, message):
    with pytest.raises(ComplusError) as info:
        c.validate_options(params)
    assert message in str(info.value)
    assert 'pw' not in str(info.value).replace('password', '')


def test_validate_options_accepts_and_normalises():
    p = c.validate_options({'path': '\\\\files\\pkgs\\orders.msi', 'destination': 'D:\\ComApps\\Orders',
                            'partition': ' Sales ', 'run_as_user': ' CORP\\svc-orders ', 'run_as_password': 'x',
                            'remote_server_name': '\\\\app01.corp.example.test', 'with_users': None})
    assert p['state'] == 'present' and p['partition'] == 'Sales' and p['run_as_user'] == 'CORP\\svc-orders'
    assert p['remote_server_name'] == 'app01.corp.example.test'
    assert p['with_users'] is False and p['force'] is False and p['overwrite_files'] is False
    assert c.validate_options({'src': 'a', 'run_as_user': 'Interactive User'})['run_as_user'] == 'Interactive User'
    assert c.validate_options({'src': 'a', 'run_as_user': 'svc@corp.example.test', 'run_as_password': 'x'})
    assert c.validate_options({'src': 'a', 'state': 'absent', 'force': True})['force'] is True


def test_guid_helpers():
    assert c.normalize_guid('{41e90f3e-56c1-4633-81c3-6e8bac8bdd70}') == GLOBAL
    assert c.normalize_guid('not-a-guid') is None
    assert c.normalize_guid(None) is None
    assert c.is_windows_absolute('C:\\x') and c.is_windows_absolute('\\\\srv\\share\\x')
    assert not c.is_windows_absolute('C:x') and not c.is_windows_absolute('\\\\srv')


# ------------------------------------------------------------------ partition choice (spec item 4)

def test_partition_default_is_global():
    part = c.resolve_partition(None, None, None, catalog()['partitions'], True)
    assert (part['id'], part['source'], part['create']) == (GLOBAL, 'global', False)
    assert part['name'] == 'Base Application Partition'


def test_partition_global_even_when_catalog_lists_none():
    part = c.resolve_partition(None, None, None, [], False)
    assert (part['id'], part['source']) == (GLOBAL, 'global')


def test_partition_from_option_by_name_and_id():
    by_name = c.resolve_partition('sales', None, None, catalog()['partitions'], True)
    assert (by_name['id'], by_name['source'], by_name['name']) == (SALES, 'option', 'Sales')
    by_id = c.resolve_partition('{%s}' % SALES.lower(), HR, 'HR', catalog()['partitions'], True)
    assert (by_id['id'], by_id['source']) == (SALES, 'option')  # the option wins over the package


def test_partition_option_global_falls_back_to_package():
    part = c.resolve_partition(GLOBAL, SALES, 'Sales', catalog()['partitions'], True)
    assert (part['id'], part['source']) == (SALES, 'package')
    assert any('global partition' in n for n in part['notes'])
    part = c.resolve_partition('Base Application Partition', None, None, catalog()['partitions'], True)
    assert (part['id'], part['source']) == (GLOBAL, 'global')


def test_partition_from_package():
    part = c.resolve_partition(None, '{%s}' % SALES, 'Sales', catalog()['partitions'], True)
    assert (part['id'], part['source'], part['create']) == (SALES, 'package', False)
    part = c.resolve_partition(None, GLOBAL, 'Base', catalog()['partitions'], True)
    assert part['source'] == 'global'


def test_partition_created_only_when_enabled():
    new = '99999999-8888-7777-6666-555555555555'
    part = c.resolve_partition(None, new, 'Finance', catalog()['partitions'], True)
    assert (part['id'], part['name'], part['create']) == (new, 'Finance', True)
    assert any('will be created' in n for n in part['notes'])
    with pytest.raises(ComplusError, match='PARTITIONS_DISABLED'):
        c.resolve_partition(None, new, 'Finance', catalog()['partitions'], False)
    part = c.resolve_partition(new, None, None, catalog()['partitions'], True)
    assert (part['source'], part['create']) == ('option', True)
    with pytest.raises(ComplusError, match='PARTITIONS_DISABLED'):
        c.resolve_partition(new, None, None, catalog()['partitions'], False)


def test_partition_errors():
    with pytest.raises(ComplusError, match="no COM\\+ partition is named 'Finance'"):
        c.resolve_partition('Finance', None, None, catalog()['partitions'], True)
    with pytest.raises(ComplusError, match='not changeable'):
        c.resolve_partition('HR', None, None, catalog()['partitions'], True)
    dup = catalog()['partitions'] + [{'id': '12345678-1234-1234-1234-123456789012', 'name': 'sales', 'changeable': True}]
    with pytest.raises(ComplusError, match='matches 2 partitions'):
        c.resolve_partition('Sales', None, None, dup, True)


# ------------------------------------------------------------------ collisions (spec item 5), state, force

def test_import_when_absent_everywhere():
    result = c.plan(opts(with_users=True), pkg(), catalog())
    assert result['changed'] is True
    assert result['applications'][0]['decision'] == 'import'
    assert result['applications'][0]['new_id_expected'] is False
    assert result['steps'] == [{'action': 'install', 'method': 'InstallApplication', 'partition_id': GLOBAL, 'options': 1}]
    assert result['install_options'] == 1 and result['wire_import_flags'] == 0x10


def test_exists_in_target_is_unchanged():
    result = c.plan(opts(), pkg(), catalog([app()]))
    assert result['changed'] is False and result['steps'] == []
    entry = result['applications'][0]
    assert entry['decision'] == 'unchanged' and entry['existing_id'] == APP_ID.strip('{}')


def test_exists_in_target_force_replaces():
    result = c.plan(opts(force=True, overwrite_files=True), pkg(), catalog([app(deleteable=False)]))
    assert result['applications'][0]['decision'] == 'replace'
    assert result['steps'] == [
        {'action': 'remove', 'id': APP_ID.strip('{}'), 'name': 'Orders', 'make_deletable': True},
        {'action': 'install', 'method': 'InstallApplication', 'partition_id': GLOBAL, 'options': 2},
    ]


def test_exists_in_target_but_different_fails():
    with pytest.raises(ComplusError, match='already exists in partition .* is a proxy on the target .*force=true'):
        c.plan(opts(), pkg(), catalog([app(is_proxy=True)]))
    with pytest.raises(ComplusError, match="points at server 'old01'"):
        c.plan(opts(remote_server_name='app01'), pkg(is_proxy=True), catalog([app(is_proxy=True, server_name='old01')]))
    same = c.plan(opts(remote_server_name='APP01'), pkg(is_proxy=True), catalog([app(is_proxy=True, server_name='app01')]))
    assert same['changed'] is False


def test_exists_only_in_other_partition_gets_new_id():
    result = c.plan(opts(), pkg(), catalog([app(partition=SALES)]))
    entry = result['applications'][0]
    assert entry['decision'] == 'import' and entry['new_id_expected'] is True
    assert entry['other_partitions'] == [SALES]
    assert 'new application ID' in entry['reason']
    assert result['steps'][-1]['action'] == 'install'


def test_target_partition_from_package_decides_collision():
    # installed in the global partition, package belongs to Sales: a new import into Sales
    result = c.plan(opts(), pkg(partition_id=SALES, partition_name='Sales'), catalog([app(partition=GLOBAL)]))
    assert result['partition']['id'] == SALES
    assert result['applications'][0]['decision'] == 'import'
    assert result['applications'][0]['new_id_expected'] is True
    # a file ExportPartition wrote goes in through InstallPartition, which needs no partition selected first
    assert result['steps'] == [{'action': 'install', 'method': 'InstallPartition', 'partition_id': SALES, 'options': 0}]


def test_new_partition_step():
    new = '99999999-8888-7777-6666-555555555555'
    result = c.plan(opts(), pkg(partition_id=new, partition_name='Finance'), catalog())
    assert [s['action'] for s in result['steps']] == ['install']
    assert result['steps'][0]['method'] == 'InstallPartition' and result['steps'][0]['partition_id'] == new
    # an application export into a partition named by the option: create it, make it current, install
    result = c.plan(opts(partition=new), pkg(), catalog())
    assert result['steps'] == [{'action': 'create_partition', 'id': new, 'name': new},
                               {'action': 'select_partition', 'id': new},
                               {'action': 'install', 'method': 'InstallApplication', 'partition_id': new, 'options': 0}]


def test_partition_is_selected_before_anything_is_removed():
    result = c.plan(opts(partition='Sales', force=True), pkg(), catalog([app(partition=SALES)]))
    assert [s['action'] for s in result['steps']] == ['select_partition', 'remove', 'install']
    assert result['steps'][0] == {'action': 'select_partition', 'id': SALES}


def test_existing_application_is_matched_by_its_id():
    # same name, another ID in the target partition: a different application, not "already installed"
    by_id = pkg()
    by_id['applications'][0]['id'] = '{%s}' % OTHER_ID.strip('{}').lower()
    result = c.plan(opts(), by_id, catalog([app()]))
    assert result['applications'][0]['decision'] == 'import' and result['applications'][0]['matched_by'] == 'id'
    # the same ID under another name is the installed application
    result = c.plan(opts(), by_id, catalog([app(name='Orders (renamed)', app_id=OTHER_ID)]))
    assert result['applications'][0]['decision'] == 'unchanged'
    assert result['applications'][0]['existing_id'] == OTHER_ID.strip('{}').upper()
    # two of the same name no longer matter when the ID tells them apart
    result = c.plan(opts(force=True), by_id, catalog([app(), app(app_id=OTHER_ID)]))
    assert result['applications'][0]['existing_id'] == OTHER_ID.strip('{}').upper()


def test_run_as_identity_and_directory_changes_are_noticed():
    installed = dict(app(), identity='CORP\\svc-old', directory='D:\\ComApps\\Orders')
    with pytest.raises(ComplusError, match="runs as 'CORP.*svc-old', not 'CORP.*svc-orders'"):
        c.plan(opts(run_as_user='CORP\\svc-orders', run_as_password='pw'), pkg(), catalog([installed]))
    with pytest.raises(ComplusError, match="is installed in 'D:.*Orders', not 'E:"):
        c.plan(opts(destination='E:\\ComApps\\Orders'), pkg(), catalog([installed]))
    same = c.plan(opts(run_as_user='corp\\SVC-OLD', run_as_password='pw', destination='d:\\comapps\\orders\\'), pkg(),
                  catalog([installed]))
    assert same['changed'] is False
    forced = c.plan(opts(run_as_user='CORP\\svc-orders', run_as_password='pw', force=True), pkg(), catalog([installed]))
    assert [s['action'] for s in forced['steps']] == ['remove', 'install']


def test_ambiguous_name_fails():
    with pytest.raises(ComplusError, match='AMBIGUOUS_APPLICATION_NAME'):
        c.plan(opts(), pkg(), catalog([app(), app(app_id=OTHER_ID)]))
    with pytest.raises(ComplusError, match='AMBIGUOUS_APPLICATION_NAME'):
        c.plan(opts(state='absent'), pkg(), catalog([app(), app(app_id=OTHER_ID)]))


def test_mixed_package_needs_force():
    two = pkg(more=[{'name': 'Billing', 'is_proxy': False, 'has_users': False}])
    with pytest.raises(ComplusError, match='only some are installed'):
        c.plan(opts(), two, catalog([app()]))
    result = c.plan(opts(force=True), two, catalog([app()]))
    assert [a['decision'] for a in result['applications']] == ['replace', 'import']
    assert [s['action'] for s in result['steps']] == ['remove', 'install']


def test_remote_server_name_needs_proxy_package():
    with pytest.raises(ComplusError, match="remote_server_name applies to application proxy packages only; 'Orders'"):
        c.plan(opts(remote_server_name='app01'), pkg(), catalog())
    result = c.plan(opts(remote_server_name='app01'), pkg(is_proxy=True), catalog())
    assert result['changed'] is True


def test_run_as_user_not_for_proxy():
    with pytest.raises(ComplusError, match='does not apply to an application proxy'):
        c.plan(opts(run_as_user='CORP\\svc', run_as_password='x'), pkg(is_proxy=True), catalog())


def test_with_users_warning():
    result = c.plan(opts(with_users=True), pkg(has_users=False), catalog())
    assert result['warnings'] == ['with_users is set but the package carries no role members']


def test_absent():
    gone = c.plan(opts(state='absent'), pkg(), catalog())
    assert gone['changed'] is False and gone['applications'][0]['decision'] == 'absent'
    other = c.plan(opts(state='absent'), pkg(), catalog([app(partition=SALES)]))
    assert other['changed'] is False  # only the target partition counts
    removed = c.plan(opts(state='absent'), pkg(), catalog([app()]))
    assert removed['steps'] == [{'action': 'remove', 'id': APP_ID.strip('{}'), 'name': 'Orders', 'make_deletable': False}]
    with pytest.raises(ComplusError, match='protected .*force=true'):
        c.plan(opts(state='absent'), pkg(), catalog([app(deleteable=False)]))
    forced = c.plan(opts(state='absent', force=True), pkg(), catalog([app(changeable=False)]))
    assert forced['steps'][0]['make_deletable'] is True


def test_empty_package():
    with pytest.raises(ComplusError, match='holds no COM\\+ application'):
        c.plan(opts(), {'applications': []}, catalog())


# ------------------------------------------------------------------ results

def test_failure_message_and_error_info():
    msg = c.failure_message('InstallApplication', -2146368501,
                            [{'name': 'Orders.dll', 'error_code': 0x8011040D, 'major_ref': 'C:\\x\\Orders.dll'},
                             {'name': None, 'error_code': 0x80070005, 'major_ref': 'ref'}], detail='Orders')
    assert msg.startswith('InstallApplication failed: COMADMIN_E_APPLICATIONEXISTS (0x8011040B): The application is already installed.')
    assert '[Orders]' in msg
    assert 'Orders.dll: COMADMIN_E_CANTCOPYFILE (0x8011040D)' in msg
    assert 'ref: HRESULT_FROM_WIN32(ERROR_ACCESS_DENIED) (0x80070005)' in msg
    assert c.failure_message('Remove', 0x80110809) == \
        'Remove failed: COMADMIN_E_OBJECT_DOES_NOT_EXIST (0x80110809): The object does not exist.'


def test_decode_applications():
    apps = c.decode_applications(
        [{'id': '{6a5c2d4e-0000-4000-8000-00000000a001}', 'name': 'Orders', 'partition_id': '{%s}' % SALES, 'is_proxy': 0},
         {'id': 'x', 'name': 'Old', 'partition_id': None, 'is_proxy': True, 'server_name': 'app01'}],
        [{'id': SALES, 'name': 'Sales'}, {'id': GLOBAL, 'name': 'Base Application Partition'}])
    assert apps[0]['id'] == '6A5C2D4E-0000-4000-8000-00000000A001'
    assert (apps[0]['partition_id'], apps[0]['partition_name'], apps[0]['is_proxy']) == (SALES, 'Sales', False)
    assert (apps[1]['id'], apps[1]['partition_id'], apps[1]['partition_name']) == ('x', GLOBAL, 'Base Application Partition')
    assert apps[1]['server_name'] == 'app01'


# ------------------------------------------------------------------ the action plugin's own steps

from ansible.errors import AnsibleActionFail  # noqa: E402

from ansible_collections.winimage.provisioning.plugins.action import win_complus_import as action  # noqa: E402


def test_action_check_args():
    opts = action.check_args({'src': 'Orders.msi', 'with_users': 'yes', 'force': 'no'})
    assert opts['with_users'] is True and opts['force'] is False and opts['overwrite_files'] is False
    with pytest.raises(AnsibleActionFail, match='unsupported option'):
        action.check_args({'src': 'a.msi', 'name': 'x'})
    with pytest.raises(AnsibleActionFail, match='with_users'):
        action.check_args({'src': 'a.msi', 'with_users': 'perhaps'})
    with pytest.raises(AnsibleActionFail, match='remote_server_name only apply to state=present'):
        action.check_args({'src': 'a.msi', 'state': 'absent', 'remote_server_name': 'app01'})


def test_action_package_from_query():
    with pytest.raises(AnsibleActionFail, match='does not exist on the target'):
        action.package_from_query({'package_exists': False}, 'C:\\p.msi')
    with pytest.raises(AnsibleActionFail, match='QueryApplicationFile2 on C:\\\\p.msi failed: COMADMIN_E_APP_FILE_READFAIL'):
        action.package_from_query({'package_exists': True, 'query_hresult': 0x80110408, 'query_error': 'x'}, 'C:\\p.msi')
    with pytest.raises(AnsibleActionFail, match='not a COM\\+ application package'):
        action.package_from_query({'package_exists': True, 'package': {'applications': []}}, 'C:\\p.msi')
    pkg = action.package_from_query({'package_exists': True, 'package': {'applications': [{'name': 'Orders'}]}}, 'p')
    assert pkg == {'applications': [{'name': 'Orders'}]}


def test_action_decode_apply():
    plan = c.plan(opts(force=True), pkg(), catalog([app()]))
    ok, error = action.decode_apply({
        'completed_steps': ['remove', 'install'],
        'applications': [{'id': '{6A5C2D4E-0000-4000-8000-00000000C003}', 'name': 'Orders', 'partition_id': GLOBAL}],
        'modules': [{'name': 'D:\\ComApps\\Orders\\Orders.dll', 'status': 0x20B}],
        'components': [{'clsid': '{1E4B3C7A-0000-4000-8000-000000000001}', 'name': 'Orders.Order', 'status': 0x1B, 'hresult': 0}],
    }, plan, catalog()['partitions'])
    assert error is None
    assert ok['applications'][0]['id'] == '6A5C2D4E-0000-4000-8000-00000000C003'
    assert ok['applications'][0]['partition_name'] == 'Base Application Partition'
    assert ok['modules'][0]['status_flags'] == ['LOADED', 'INSTANTIATE', 'CONTAINSCOMP', 'ALREADYINSTALLED']
    assert ok['components'][0]['hresult_name'] == 'S_OK'

    failed, error = action.decode_apply({
        'completed_steps': ['remove'],
        'step_error': {'action': 'install', 'hresult': -2146368499, 'message': 'copy failed',
                       'error_info': [{'name': 'Orders.dll', 'error_code': 0x8011040D}]},
    }, plan, catalog()['partitions'])
    assert error.startswith('InstallApplication failed: COMADMIN_E_CANTCOPYFILE (0x8011040D)')
    assert 'Orders.dll: COMADMIN_E_CANTCOPYFILE' in error
    assert 'was removed before the import failed' in error
    assert failed['error']['hresult']['name'] == 'COMADMIN_E_CANTCOPYFILE'

    partial, error = action.decode_apply({
        'completed_steps': ['install'],
        'modules': [{'name': 'bad.dll', 'status': 0x80}],
        'components': [{'clsid': '1E4B3C7A-0000-4000-8000-000000000002', 'name': None, 'status': 0x200, 'hresult': 0x80110439}],
    }, plan, [])
    assert error == ('the import finished but reported failures: modules bad.dll; '
                     'components 1E4B3C7A-0000-4000-8000-000000000002')


def test_component_hresults_are_the_catalogs():
    plan = c.plan(opts(), pkg(), catalog())
    # no HRESULT reported for a component: unknown, not S_OK, and not a failure
    fields, error = action.decode_apply({'completed_steps': ['install'], 'components': [
        {'clsid': '{1E4B3C7A-0000-4000-8000-000000000001}', 'name': 'Orders.Order', 'status': 0x1B, 'hresult': None}]},
        plan, [])
    assert error is None and fields['components'][0]['hresult'] is None and fields['components'][0]['failed'] is False
    # the ErrorInfo entry naming a component gives its HRESULT, and the failed-component check fires
    fields, error = action.decode_apply({
        'completed_steps': [],
        'components': [{'clsid': '{1E4B3C7A-0000-4000-8000-000000000001}', 'name': 'Orders.Order', 'status': 0x200,
                        'hresult': None}],
        'step_error': {'action': 'install', 'hresult': 0x80110401, 'message': 'errors',
                       'error_info': [{'name': 'Orders.Order', 'major_ref': '{1e4b3c7a-0000-4000-8000-000000000001}',
                                       'error_code': 0x80110439}]},
    }, plan, [])
    assert fields['components'][0]['hresult_name'] == 'COMADMIN_E_COMPONENTEXISTS'
    assert fields['components'][0]['failed'] is True


def test_action_summarize_inspection():
    assert action.summarize_inspection(None) is None
    info = {'path': '/x', 'size': 1, 'sha256': 'ab', 'product_name': 'P', 'product_code': None, 'product_version': None,
            'manufacturer': None, 'tables': ['Complus'], 'complus': [], 'files': [], 'apl_files': [], 'summary': {}}
    assert set(action.summarize_inspection(info)) == {'size', 'sha256', 'product_name', 'product_code', 'product_version',
                                                      'manufacturer', 'tables', 'complus', 'files', 'apl_files'}


# ------------------------------------------------------------------ run() against recorded module results

def _query(apps=(), package_apps=None):
    return {'package_exists': True, 'package_size': 4096,
            'package': {'applications': package_apps or [{'id': APP_ID, 'name': 'Orders', 'is_proxy': False,
                                                          'has_users': False, 'partition_id': None}]},
            'catalog': catalog(apps)}


def _run(recorded, check_mode=False, **kw):
    from win_action_stub import run_action
    args = {'path': 'C:\\pkg\\orders.msi'}
    args.update(kw)
    return run_action(action.ActionModule, args, recorded, check_mode=check_mode)


def test_run_check_mode_and_idempotence():
    result, conn = _run({'query': _query()}, check_mode=True)
    assert conn.phases() == ['query'] and result['changed'] is True
    assert result['plan']['steps'][-1]['method'] == 'InstallApplication'
    result, conn = _run({'query': _query([app()])})
    assert conn.phases() == ['query'] and result['changed'] is False


def test_run_sends_the_plan_and_reports_the_import():
    applied = {'changed': True, 'completed_steps': ['select_partition', 'install'],
               'applications': [{'id': APP_ID, 'name': 'Orders', 'partition_id': '{%s}' % SALES}],
               'modules': [{'name': 'D:\\Orders.dll', 'status': 0x1B}],
               'components': [{'clsid': '{1E4B3C7A-0000-4000-8000-000000000001}', 'name': 'Orders.Order', 'status': 0x1B,
                               'hresult': None}]}
    result, conn = _run({'query': _query(), 'apply': applied}, partition='Sales')
    assert conn.phases() == ['query', 'apply']
    steps = conn.calls[1][1]['_request']['steps']
    assert [s['action'] for s in steps] == ['select_partition', 'install']
    assert result['changed'] and not result.get('failed') and result['components'][0]['hresult'] is None


def test_run_failures_say_what_was_changed():
    failed = {'changed': True, 'completed_steps': ['remove'],
              'step_error': {'action': 'install', 'hresult': 0x8011040D, 'message': 'copy', 'error_info': []}}
    result, dummy = _run({'query': _query([app()]), 'apply': failed}, force=True)
    assert result['failed'] and 'was removed before the import failed' in result['msg']
    refused = {'changed': False, 'completed_steps': [],
               'step_error': {'action': 'precondition', 'hresult': None, 'message': 'the destination folder E:\\x does not exist',
                              'error_info': []}}
    result, dummy = _run({'query': _query([app()]), 'apply': refused}, force=True, destination='E:\\x')
    assert result['failed'] and result['changed'] is False
    assert 'nothing was changed' in result['msg'] and 'E:\\x does not exist' in result['msg']
    assert 'was removed' not in result['msg']
    with pytest.raises(AnsibleActionFail, match='not a COM\\+ application package'):
        _run({'query': dict(_query(), package={'applications': []})})


def test_the_report_picks_applications_by_id():
    package = [{'id': '{%s}' % OTHER_ID.strip('{}').lower(), 'name': 'Orders'}, {'name': 'Billing'}]
    ids, names = c.report_keys(package)
    assert ids == [OTHER_ID.strip('{}')] and names == ['Billing']
    assert c.is_package_app({'id': OTHER_ID.strip('{}'), 'name': 'Renamed'}, ids, names)
    assert not c.is_package_app({'id': APP_ID.strip('{}'), 'name': 'Orders'}, ids, names)
    assert c.is_package_app({'id': APP_ID.strip('{}'), 'name': 'Billing'}, ids, names)


def test_run_sends_ids_for_the_report():
    applied = {'changed': True, 'completed_steps': ['install'], 'applications': [], 'modules': [], 'components': []}
    result, conn = _run({'query': _query(), 'apply': applied})
    request = conn.calls[1][1]['_request']
    assert request['app_ids'] == [APP_ID.strip('{}')] and request['app_names'] == []
