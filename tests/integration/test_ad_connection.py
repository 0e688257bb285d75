# -*- coding: utf-8 -*-
"""The LDAP connection against real Samba DCs, through real ansible-playbook runs captured with tcpdump.

* The hardened DC (no certificate, ``ldap server require strong auth = yes``):
  a batch with a bare user name and a password (Kerberos from the password by
  the DC's name; NTLM by its address) and with a Kerberos ccache and no
  password. Every package's password authenticates (``kinit NAME$``), the second
  run changes nothing, odj_verify_secret authenticates the secret installed in
  an image, and the provisioner role runs end to end.
* The LDAPS DC: the same batch over LDAPS and over StartTLS, with the DC's CA.
* Each run is captured on loopback (tcpdump, filtered on the DC's address): the
  capture holds neither the admin password nor any machine password, in UTF-8
  or UTF-16LE.
* Errors with their exact messages: a CA that does not sign the certificate, a
  certificate that does not name the address asked for, a name that does not
  resolve, a simple bind where there is no TLS.
"""

import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

from ansible_collections.winimage.provisioning.plugins.module_utils.ad.client import ADClient
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.errors import ADError
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.secret import verify_secret
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import decode
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_raw

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


class Capture(object):
    """tcpdump on loopback of the traffic to and from one address, into a pcap file."""

    def __init__(self, path, address):
        self.path = str(path)
        self.address = address
        self.process = None

    def __enter__(self):
        tcpdump = shutil.which('tcpdump', path=os.pathsep.join([os.environ.get('PATH', ''), '/usr/sbin', '/usr/bin']))
        if tcpdump is None:
            pytest.fail('tcpdump is not installed (bindep.txt)')
        self.process = subprocess.Popen([tcpdump, '-i', 'lo', '-U', '-s', '0', '-w', self.path, 'host', self.address],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # tcpdump writes the pcap header once it listens
            if os.path.exists(self.path) and os.path.getsize(self.path) >= 24:
                break
            time.sleep(0.1)
        return self

    def __exit__(self, *exc):
        time.sleep(0.5)
        self.process.send_signal(signal.SIGINT)
        self.process.wait(20)

    def data(self):
        with open(self.path, 'rb') as handle:
            return handle.read()


def assert_no_secret(capture, secrets):
    data = capture.data()
    assert len(data) > 10000, 'the capture holds no traffic of the run'
    for secret in secrets:
        for encoded in (secret.encode('utf-8', 'surrogatepass'), secret.encode('utf-16-le', 'surrogatepass')):
            assert encoded not in data, 'a password is readable in the capture'


def play(tmp_path, collections_root, dc, tasks, secrets_vars, extra_env=None):
    """Run tasks on localhost with dc's client environment; return (rc, output, results registered as r<N>)."""
    dump = {'name': 'dump', 'ansible.builtin.copy': {
        'content': '{{ {%s} | to_json }}' % ', '.join("'r%d': r%d | default(none)" % (i, i) for i in range(len(tasks))),
        'dest': str(tmp_path / 'results.json'), 'mode': '0600'}}
    numbered = []
    for index, task in enumerate(tasks):
        task = dict(task, register='r%d' % index)
        task.setdefault('name', 't%d' % index)
        numbered.append(task)
    book = tmp_path / 'play.yml'
    book.write_text(yaml.safe_dump([{'hosts': 'localhost', 'gather_facts': False,
                                     'vars': {'ansible_python_interpreter': sys.executable},
                                     'tasks': numbered + [dump]}], sort_keys=False))
    vars_file = tmp_path / 'secrets.json'
    fd = os.open(str(vars_file), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        json.dump(secrets_vars, handle)
    env = dc.child_env(dict(ANSIBLE_COLLECTIONS_PATH=str(collections_root), ANSIBLE_NOCOLOR='1',
                            PATH=BIN + os.pathsep + os.environ.get('PATH', '')))
    env.update(extra_env or {})
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', str(book),
                           '-e', '@%s' % vars_file, '-vv'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=env, cwd=str(tmp_path), check=False)
    results = json.loads((tmp_path / 'results.json').read_text()) if (tmp_path / 'results.json').exists() else {}
    return proc.returncode, proc.stdout.decode('utf-8', 'replace'), results


def package_password(path):
    with open(path, 'rb') as handle:
        return decode(to_raw(handle.read())).win7.machine_password


def kinit_ok(dc, name, password, tmp_path):
    ccache = 'FILE:%s' % (tmp_path / ('cc-%s' % name))
    return dc.kinit('%s$@%s' % (name, dc.realm), password, ccache).returncode == 0


@pytest.fixture(scope='module')
def image_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp('conn-images')
    subprocess.run([sys.executable, os.path.join(REPO, 'scripts', 'make-sample-image'), '--out', str(base),
                    '--count', '4'], check=True, stdout=subprocess.DEVNULL)
    return base


HARDENED_CASES = {
    # bare user name + password, DC by name: Kerberos from the password, sealed
    'password': dict(server='name', auth='kerberos'),
    # bare user name + password, DC by address: no Kerberos service name, NTLM, sealed
    'password-ntlm': dict(server='ip', auth='ntlm'),
    # a Kerberos credential cache, no password
    'ccache': dict(server='name', auth='kerberos'),
}


@pytest.mark.parametrize('case', sorted(HARDENED_CASES))
def test_hardened_dc_batch_verify_and_role(hardened_dc, collections_root, image_dir, tmp_path, case):
    dc = hardened_dc
    spec = HARDENED_CASES[case]
    prefix = {'password': 'HPW', 'password-ntlm': 'HNT', 'ccache': 'HCC'}[case]
    names = ['%s%02d' % (prefix, i) for i in range(1, 4)]
    role_name = '%sR1' % prefix
    server = dc.dc_hostname if spec['server'] == 'name' else dc.ip
    conn = {'domain': dc.dns_domain, 'domain_server': server}
    role_vars = {'odj_domain': dc.dns_domain, 'odj_domain_server': server}
    extra_env = {}
    if case == 'ccache':
        ccache = 'FILE:%s' % (tmp_path / 'admin.ccache')
        assert dc.kinit(dc.admin_principal, dc.admin_password, ccache).returncode == 0
        conn['ccache'] = ccache
        extra_env['KRB5CCNAME'] = ccache  # the role passes no ccache: the default cache
    else:
        conn.update(domain_username=dc.admin_user, domain_password='{{ admin_password }}')
        role_vars.update(odj_domain_username=dc.admin_user, odj_domain_password='{{ admin_password }}')
    image = image_dir / ('sample-%02d' % (sorted(HARDENED_CASES).index(case) + 1))
    (tmp_path / 'pkgs').mkdir()
    tasks = [
        {'winimage.provisioning.odj_provision': dict(conn, machines=names, dest=str(tmp_path / 'pkgs'))},
        {'winimage.provisioning.odj_provision': dict(conn, machines=names, dest=str(tmp_path / 'pkgs'))},
        {'winimage.provisioning.odj_install': {'package': str(tmp_path / 'pkgs' / ('%s.djoin' % names[0])),
                                               'image': str(image)}},
        {'winimage.provisioning.odj_verify_secret': {'image': str(image), 'machine_name': names[0],
                                                     'domain': dc.dns_domain}},
        {'ansible.builtin.include_role': {'name': 'winimage.provisioning.provisioner'},
         'vars': dict(role_vars, provisioner_machines=[role_name], odj_vault_password='{{ vault_password }}',
                      odj_store_dir=str(tmp_path / 'store'), provisioner_return_packages=False)},
        {'ansible.builtin.set_fact': {'role_results': '{{ provisioner_results }}'}},
        # the connection options from the environment only
        {'winimage.provisioning.odj_provision': {'domain': dc.dns_domain, 'machines': ['%sE1' % prefix],
                                                 'dest': str(tmp_path / 'pkgs')},
         'environment': dict({'WINIMAGE_DOMAIN_SERVER': server, 'WINIMAGE_TLS_MODE': 'none'},
                             **({'WINIMAGE_DOMAIN_USERNAME': dc.admin_user,
                                 'WINIMAGE_DOMAIN_PASSWORD': '{{ admin_password }}'} if case != 'ccache' else {}))},
    ]
    secrets = {'admin_password': dc.admin_password, 'vault_password': 'vault-%s' % os.urandom(6).hex()}
    with Capture(tmp_path / 'run.pcap', dc.ip) as capture:
        rc, out, res = play(tmp_path, collections_root, dc, tasks, secrets, extra_env)
    assert rc == 0, out
    first, second, _install, verified = res['r0'], res['r1'], res['r2'], res['r3']
    assert first['changed'] is True and [m['status'] for m in first['machines']] == ['created'] * 3
    assert first['connection'] == {'transport': 'sasl', 'auth': spec['auth'], 'server': server, 'port': 389,
                                   'sealed': True}
    assert second['changed'] is False and {m['status'] for m in second['machines']} == {'unchanged'}
    passwords = [package_password(tmp_path / 'pkgs' / ('%s.djoin' % name)) for name in names]
    for name, password in zip(names, passwords):
        assert kinit_ok(dc, name, password, tmp_path)
    assert verified['authenticated'] is True and verified['connection']['auth'] == 'kerberos'
    role_results = res['r5']['ansible_facts']['role_results']
    assert [(r['name'], r['status']) for r in role_results] == [(role_name, 'created')]
    assert (tmp_path / 'store').is_dir() and os.listdir(str(tmp_path / 'store'))
    from_env = res['r6']
    assert from_env['changed'] is True and from_env['connection']['transport'] == 'sasl'
    passwords.append(package_password(tmp_path / 'pkgs' / ('%sE1.djoin' % prefix)))
    assert_no_secret(capture, [dc.admin_password] + passwords)
    assert dc.admin_password not in out and not any(p in out for p in passwords)


@pytest.mark.parametrize('tls_mode', ['ldaps', 'start_tls'])
def test_ldaps_dc_over_ldaps_and_start_tls_with_its_ca(samba_dc, collections_root, tmp_path, tls_mode):
    dc = samba_dc
    names = ['%s%02d' % ('TLS' if tls_mode == 'ldaps' else 'STL', i) for i in range(1, 3)]
    conn = {'domain': dc.dns_domain, 'domain_server': dc.dc_hostname, 'tls_mode': tls_mode, 'ca_cert': dc.ca_file,
            'domain_username': dc.admin_user, 'domain_password': '{{ admin_password }}'}
    tasks = [{'winimage.provisioning.odj_provision': dict(conn, machines=names, dest=str(tmp_path / 'pkgs'))},
             {'winimage.provisioning.odj_provision': dict(conn, machines=names, dest=str(tmp_path / 'pkgs'),
                                                          auth_protocol='simple')}]
    (tmp_path / 'pkgs').mkdir()
    with Capture(tmp_path / 'run.pcap', dc.ip) as capture:
        rc, out, res = play(tmp_path, collections_root, dc, tasks, {'admin_password': dc.admin_password})
    assert rc == 0, out
    assert res['r0']['connection'] == {'transport': tls_mode, 'auth': 'kerberos', 'server': dc.dc_hostname,
                                       'port': 636 if tls_mode == 'ldaps' else 389, 'sealed': False}
    assert res['r1']['connection']['auth'] == 'simple' and res['r1']['changed'] is False
    passwords = [package_password(tmp_path / 'pkgs' / ('%s.djoin' % name)) for name in names]
    for name, password in zip(names, passwords):
        assert kinit_ok(dc, name, password, tmp_path)
    assert_no_secret(capture, [dc.admin_password] + passwords)


def _other_ca(tmp_path):
    """A CA that signed nothing the DC has."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'Unrelated Test CA')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    path = tmp_path / 'other-ca.pem'
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


def _error(server, **kwargs):
    with pytest.raises(ADError) as err:
        ADClient(server, username='Administrator', password='not-used-here', timeout=5, **kwargs).connect()
    return err.value


def test_wrong_ca_is_named(samba_dc, tmp_path):
    other = _other_ca(tmp_path)
    cn = 'DC1.%s' % samba_dc.dns_domain
    issuer = 'CN=%s,OU=Samba - temporary autogenerated CA certificate,O=Samba Administration' % cn
    for mode, port in (('ldaps', 636), ('start_tls', 389)):
        error = _error(samba_dc.ip, server_name=samba_dc.dc_hostname, tls_mode=mode, ca_cert=other)
        assert error.kind == 'tls'
        assert str(error) == ("TLS to %s:%d: the DC's certificate (CN=%s) is issued by %s, which is not in the CA "
                              "file ca_cert %s" % (samba_dc.ip, port, cn, issuer, other))


def test_certificate_that_does_not_name_the_address_asked_for(samba_dc):
    error = _error(samba_dc.ip, tls_mode='ldaps', ca_cert=samba_dc.ca_file)
    assert error.kind == 'tls'
    assert str(error) == ("TLS to %s:636: the DC's certificate is for CN=DC1.%s, not for %s (the address asked for); "
                          "connect by a name the certificate holds" % (samba_dc.ip, samba_dc.dns_domain, samba_dc.ip))
    # the same DC by a name its certificate holds (as a resolver would give it) validates
    client = ADClient(samba_dc.ip, server_name='dc1.%s' % samba_dc.dns_domain, username='%s@%s' % (
        samba_dc.admin_user, samba_dc.realm), password=samba_dc.admin_password, tls_mode='ldaps',
        ca_cert=samba_dc.ca_file, auth_protocol='simple').connect()
    try:
        assert client.connection_facts()['transport'] == 'ldaps'
    finally:
        client.close()


def test_name_that_does_not_resolve():
    error = _error('no-such-dc.invalid')
    assert error.kind == 'unreachable'
    assert str(error) == ("the DC name no-such-dc.invalid does not resolve (Name or service not known); check the "
                          "name or DNS, or give the DC's address")


def test_no_simple_bind_without_tls(hardened_dc):
    error = _error(hardened_dc.ip, auth_protocol='simple', tls_mode='none')
    assert error.kind == 'options'
    assert str(error) == ('auth_protocol=simple with tls_mode=none would send the password readable on the wire; a '
                          'simple bind is only made inside TLS (use tls_mode auto, ldaps or start_tls, or '
                          'auth_protocol negotiate for a sealed SASL bind)')
    error = _error(hardened_dc.ip, auth_protocol='simple')
    assert str(error) == ('cannot reach the DC %s:636 (%s: Connection refused); auth_protocol=simple is only used '
                          'inside TLS (a simple bind on a plain connection would send the password readable; '
                          'auth_protocol negotiate binds with sealed SASL instead)' % (hardened_dc.ip, hardened_dc.ip))


def test_hardened_dc_refuses_what_it_should(hardened_dc):
    """The hardened DC is what it claims: no LDAPS, and a simple bind on 389 refused (ldap3, outside the collection)."""
    import ldap3
    conn = ldap3.Connection(ldap3.Server(hardened_dc.ip, port=389, get_info=ldap3.NONE),
                            user=hardened_dc.admin_dn, password=hardened_dc.admin_password)
    assert not conn.bind()
    assert conn.result['result'] == 8  # strongerAuthRequired
    conn.unbind()
    error = _error(hardened_dc.ip, tls_mode='ldaps')
    assert str(error) == 'cannot reach the DC %s:636 (%s: Connection refused)' % (hardened_dc.ip, hardened_dc.ip)


def test_verify_secret_without_kinit_binds_as_the_account_over_sealed_ldap(hardened_dc):
    """The fallback of the one password check: NTLM as NAME$ on the sealed connection (no krb5 tools)."""
    dc = hardened_dc
    admin = ADClient(dc.ip, username=dc.admin_user, password=dc.admin_password, domain=dc.dns_domain).connect()
    try:
        password = 'Vs-' + os.urandom(12).hex() + 'aZ9!'
        errors = []
        pipe = admin.pipeline(1)
        admin.queue_create_computer(pipe, 'VSFALL1', 'CN=Computers,%s' % dc.base_dn, dc.dns_domain, password,
                                    errors.append)
        pipe.run()
        assert errors == [None]
        ldap = dict(admin.account_options(), server=dc.ip)
        assert verify_secret('VSFALL1$', password, dc.realm, dc.ip, ldap=ldap) == (True, 'ldap_bind')
        assert verify_secret('VSFALL1$', password + 'x', dc.realm, dc.ip, ldap=ldap) == (False, 'ldap_bind')
    finally:
        admin.close()


def test_wrong_password_names_the_account_and_protocol(hardened_dc):
    error = _error(hardened_dc.ip, domain=hardened_dc.dns_domain, auth_protocol='ntlm')
    assert error.kind == 'bad_credentials'
    assert str(error).startswith('the DC %s:389 refused the NTLM credentials of Administrator@%s (invalid user name or '
                                 'password' % (hardened_dc.ip, hardened_dc.realm))


def test_no_password_is_written_on_a_signed_only_connection(hardened_dc):
    """encrypt=false signs without sealing: the DC accepts the bind, the collection refuses to send a password."""
    dc = hardened_dc
    admin = ADClient(dc.ip, username=dc.admin_user, password=dc.admin_password, domain=dc.dns_domain,
                     encrypt=False).connect()
    try:
        assert not admin.protected
        errors = []
        pipe = admin.pipeline(1)
        with pytest.raises(ADError) as err:
            admin.queue_create_computer(pipe, 'SIGNONLY1', 'CN=Computers,%s' % dc.base_dn, dc.dns_domain,
                                        'Vs-' + os.urandom(12).hex() + 'aZ9!', errors.append)
            pipe.run()
        assert err.value.kind == 'tls_required'
        assert str(err.value) == ('refusing to send a password over sasl: the connection to %s:389 is neither TLS '
                                  'nor sealed (encrypt is false)' % dc.ip)
        assert admin.search(dc.base_dn, '(sAMAccountName=SIGNONLY1$)', 'subtree', ['cn']) == []
    finally:
        admin.close()


def test_kerberos_failure_names_the_credential_cache(hardened_dc, tmp_path):
    ccache = 'FILE:%s' % (tmp_path / 'empty.ccache')
    with pytest.raises(ADError) as err:
        ADClient(hardened_dc.ip, server_name='dc1.%s' % hardened_dc.dns_domain, auth_protocol='kerberos',
                 ccache=ccache, domain=hardened_dc.dns_domain, timeout=5).connect()
    assert err.value.kind == 'kerberos'
    assert str(err.value).startswith('Kerberos authentication to %s:389 (service ldap/dc1.%s) failed from the '
                                     'credential cache %s: ' % (hardened_dc.ip, hardened_dc.dns_domain, ccache))
