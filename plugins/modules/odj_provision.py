#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: odj_provision
short_description: Create computer accounts and offline domain join packages from Linux
version_added: 0.1.0
description:
  - Does from Linux, in Python, what C(djoin /provision) and C(NetCreateProvisioningPackage) do on
    Windows, against any Active Directory domain controller (Windows or Samba).
  - For each machine in O(machines) it creates the computer account the way Windows does
    (C(sAMAccountName) C(NAME$), C(userAccountControl) workstation trust, C(dNSHostName), C(HOST/) and
    C(RestrictedKrbHost/) service principal names, in O(machine_account_ou)), sets its password inside
    the protected LDAP connection (TLS, or a sealed SASL layer - see O(tls_mode)), and builds the provisioning package from what the DC itself reports
    (domain SID and GUID, forest, DC name and address, the DC flags and site names of the LDAP/Netlogon
    ping, the account's RID and SID).
  - A whole batch runs in one task over one authenticated LDAP connection. One bad machine (invalid
    name, conflict) does not stop the others; the task then fails and lists the bad ones.
  - Idempotent. A machine whose package file exists in O(dest) and whose password still authenticates
    as the account is left alone (no password reset). A missing or stale package means a new password
    and a new file.
  - The package holds the machine password in clear text. Files are created with mode C(0600), atomically,
    optionally encrypted with Ansible Vault (O(vault_password) or O(vault_id)). Nothing secret reaches the
    task result unless O(return_package=true), and then the task output is censored like C(no_log).
  - Safe to run again with an empty O(dest) (an AWX relaunch, job slices). Accounts it made that no machine has used
    are re-provisioned; accounts in use are refused with the reason (see O(reset_accounts_in_use)).
  - After the writes, the password of every new package is checked (the account's key version, and Kerberos when the
    version says another write happened); a machine whose password someone else changed meanwhile (another run from
    another store, an administrator) fails, and its package is removed.
  - "Run it where the packages should be: normally the controller (C(delegate_to: localhost)) or an AWX
    execution environment."
author:
  - winimage.provisioning contributors (@winimage)
extends_documentation_fragment:
  - winimage.provisioning.ad_connection
options:
  domain:
    description:
      - DNS name of the domain, for example V(corp.example.com).
    type: str
    required: true
  machines:
    description:
      - One computer name or a list of them (NetBIOS names; at most 15 characters; letters, digits and hyphens;
        not only digits).
      - Names are used in upper case, as Windows does.
    type: list
    elements: str
    required: true
  machine_account_ou:
    description:
      - Distinguished name of the OU or container for new accounts.
      - Default is the domain's well-known computers container (from C(wellKnownObjects)), usually
        C(CN=Computers,DC=...).
      - An existing account stays where it is.
    type: str
  domain_server:
    description:
      - Name or address of the DC to use (the microsoft.ad name; O(domain_controller) is the old name).
      - Default is to look up the C(_ldap._tcp.dc._msdcs.<domain>) DNS SRV records and try them in order.
      - A name is better than an address - the certificate names the host, and Kerberos needs the name.
      - If not set, the environment variable E(WINIMAGE_DOMAIN_SERVER) is used.
    type: str
    aliases: [domain_controller, dc_name]
  dns_servers:
    description:
      - DNS servers for the SRV lookup when O(domain_controller) is not given. Default is the system resolver.
    type: list
    elements: str
  reuse_account:
    description:
      - What C(NETSETUP_PROVISION_REUSE_ACCOUNT) means. An existing account of the same name that this collection
        did not make is an error (RV(machines[].status=conflict)) unless this is set; when set, its password is reset
        and a new package written - unless a machine uses the account (see O(reset_accounts_in_use)).
      - An account that this module created and no machine has used yet is re-provisioned without this option
        when O(dest) has no package for it (an AWX relaunch or another job slice starts with an empty store); it gets a new
        password and a new package. The module marks the accounts it creates with the C(description)
        C(Offline domain join account made by winimage.provisioning); an account whose description was changed
        counts as made elsewhere.
      - An account whose stale package file or pending marker in O(dest) names it is always finished or renewed,
        unless it is in use.
    type: bool
    default: false
  use_default_password:
    description:
      - What C(NETSETUP_PROVISION_USE_DEFAULT_PASSWORD) means. The password is the machine name in lower case
        (first 14 characters) instead of a random one. Only for legacy cases, as anyone can guess it.
    type: bool
    default: false
  skip_account_search:
    description:
      - C(NETSETUP_PROVISION_SKIP_ACCOUNT_SEARCH) in the package options. The module only ever asks the one DC it
        uses, so this changes nothing else.
    type: bool
    default: false
  persistent_site:
    description:
      - C(NETSETUP_PROVISION_PERSISTENTSITE). Adds a join provider 2 part that pins the machine to the site the DC
        reports for the provisioning host (C(ClientSiteName) of the LDAP ping).
    type: bool
    default: false
  provision_root_ca_certs:
    description:
      - C(NETSETUP_PROVISION_ROOT_CA_CERTS). Adds the CA certificates the domain publishes (C(cACertificate) under
        C(CN=Certification Authorities,CN=Public Key Services,CN=Services) of the configuration partition) as a
        certificate part for the machine's root store.
    type: bool
    default: false
  machine_policy_paths:
    description:
      - Local Registry Policy Files (C(Registry.pol), C(PReg) format) to embed as a policy part, one element list
        per file, entries kept exactly. A malformed file is refused naming the fault.
    type: list
    elements: path
    default: []
  machine_policy_names:
    description:
      - Display names (or C({GUID})s) of GPOs whose C(Machine/Registry.pol) is read from SYSVOL over SMB (with the same
        credentials) and embedded like O(machine_policy_paths). A name matching no GPO, or several, is an error.
    type: list
    elements: str
    default: []
  certificate_templates:
    description:
      - Certificate templates (C(djoin /certtemplate)) need enrolment with a CA through Windows; the module refuses
        them with C(ERROR_NOT_SUPPORTED) and points to M(winimage.provisioning.win_odj_provision).
    type: list
    elements: str
    default: []
  netsetup_log:
    description:
      - NetSetup-style log the module appends one line per machine to (what was asked, what was done, the Windows
        status name and code, never a secret). Created C(0600) in a C(0700) directory.
      - Default C(/var/log/winimage-provisioning/netsetup.log). An empty string turns it off. Nothing is logged in
        check mode.
    type: path
  dest:
    description:
      - Folder for the package files, one per machine, named C(<NAME>.djoin), C(<NAME>.odj) or C(<NAME>.b64)
        after O(package_format), with C(.vault) appended when encrypted. Created files have mode C(0600).
      - Also where the module finds the packages of earlier runs (idempotency). Runs into one folder take turns;
        each holds the lock file C(.odj_provision.lock) in it from before it looks the accounts up until its packages
        are written (see O(lock_timeout)). A folder on shared storage (NFS) keeps the packages across AWX jobs and
        slices; its file system must pass C(flock) locks between hosts (Linux NFS clients do).
      - Created with mode C(0700) when missing (its parent folders too); in check mode the result says it would be
        (RV(dest_created)).
      - At least one of O(dest) and O(return_package) is needed.
    type: path
  package_format:
    description:
      - Form of the files in O(dest).
      - V(djoin_file) is what C(djoin /savefile) writes (UTF-16LE base64 with byte order mark), for
        C(djoin /requestodj /loadfile).
      - V(raw) is the binary package (for C(NetRequestOfflineDomainJoin)).
      - V(base64) is one line of base64 (unattend C(AccountData)); with a vault it is what the
        P(ansible.builtin.unvault#lookup) lookup reads back as text.
    type: str
    choices: [djoin_file, raw, base64]
    default: djoin_file
  return_package:
    description:
      - Return each package as one line of base64 in RV(machines[].package).
      - The package holds the machine password, so the whole task output is then censored like C(no_log)
        (the registered variable still has everything).
    type: bool
    default: false
  vault_password:
    description:
      - Encrypt the package files with Ansible Vault (AES256) using this password. Existing vault-encrypted
        packages are read with it too.
      - If not set, the environment variable E(WINIMAGE_VAULT_PASSWORD) is used.
      - Read them back with C(ansible-vault), P(ansible.builtin.copy#module) (decrypts by default) or the
        P(ansible.builtin.unvault#lookup) lookup.
      - If not set, the environment variable E(WINIMAGE_VAULT_PASSWORD) is used (what the AWX credential type
        C(winimage.provisioning package vault) injects).
    type: str
  vault_id:
    description:
      - Vault id to label the files with (C($ANSIBLE_VAULT;1.2;AES256;<id>)).
      - Without O(vault_password), the secret of this vault id given to ansible-playbook (C(--vault-id id@source))
        is used; the action plugin looks it up on the controller.
    type: str
  timeout:
    description:
      - Seconds to wait for the DC to connect and to answer.
    type: int
    default: 15
  execution:
    description:
      - "Where the work runs when the task runs on the controller itself (C(delegate_to: localhost), a local
        connection)."
      - V(auto) runs it inside the controller's worker process, with the same option checks, result and
        censoring of secrets as the module, but without starting a module (a new Python, the module payload and
        its imports, a few tenths of a second per task). It runs the module instead when the task is on another
        host, uses C(become), C(async) or an C(environment), or when the controller's Python lacks a library the
        task needs (C(ldap3), C(pyspnego); C(gssapi) for Kerberos; C(dnspython) to find the DC).
      - V(controller) insists on the controller process and fails, saying why, when that is not possible.
      - V(module) always runs the module.
    type: str
    choices: [auto, controller, module]
    default: auto
  reset_accounts_in_use:
    description:
      - Reset the password of an account a machine uses, and write a new package for it. The machine that uses
        the account loses its trust with the domain until it is joined again with the new package.
      - An account is in use when a machine joined with it (it has C(operatingSystem), which Windows writes when it
        first reaches a DC) or when it logged on more than ten minutes after its password was last set
        (C(lastLogonTimestamp), or C(lastLogon) on the DC used). The module's own check of a new password, right
        after it set it, is such a logon too, but within seconds; a run that finds a package in O(dest) and tries
        its password logs on too.
      - Without this option such an account is refused (RV(machines[].status=conflict)), naming it and why it is in
        use, even with O(reuse_account=true); its password is not touched.
    type: bool
    default: false
  lock_timeout:
    description:
      - Seconds to wait for another run that holds the lock of O(dest) (another job slice into the same folder)
        before failing without a change.
    type: int
    default: 600
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Reports per machine V(would_create), V(would_reuse), V(conflict) or V(unchanged) and writes nothing,
        neither to the directory nor to files.
      - The password in an existing package is not tried (a bind is a logon the DC records); a package that
        matches the account is reported V(unchanged).
      - A missing O(dest) is not created; RV(dest_created) says it would be.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Lists the accounts and files that would change; never a password.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
seealso:
  - module: winimage.provisioning.odj_package_info
  - module: winimage.provisioning.odj_install
requirements:
  - ldap3 (its LDAP message encoders) and pyspnego (Kerberos, NTLM, signing and sealing)
  - krb5 user tools (C(kinit)), to check the password of an existing package
  - dnspython (only to find the DC from DNS)
  - cryptography (certificates, and O(vault_password))
  - gssapi and krb5 Python packages (only for Kerberos)
notes:
  - A batch is one LDAP connection with up to 16 requests in flight (LDAP lets a client send requests without
    waiting for each answer); the DC works through the adds and password resets back to back while new accounts
    are read back and their packages written as the answers come. Each password costs the DC a key derivation
    (PBKDF2 for the AES keys), and that, not the round trips, sets the pace.
  - The password is set over LDAPS (C(unicodePwd) in the add or modify request), which needs a DC certificate;
    Active Directory and Samba DCs have one.
  - Machine passwords are 64 random characters (about 410 bits).
  - The password in an existing package is checked with a Kerberos AS exchange (C(kinit), a temporary
    C(krb5.conf) naming the DC used, an in-memory cache) because a DC accepts the previous password of an
    account in LDAP binds for a while after a reset. The exchanges of a batch are independent and run up to
    eight at a time. Without C(kinit) the module falls back to such a bind.
  - Errors name the problem - bad credentials, DC unreachable, OU missing, no right to create computers, invalid
    name - and never contain a password.
  - Failures carry the name and number Windows uses for them (RV(machines[].error), RV(error_name)), for example
    C(NERR_UserExists), C(ERROR_INVALID_DOMAIN_ROLE) (a read-only DC or a DC of another domain),
    C(ERROR_NO_SUCH_DOMAIN), C(ERROR_ACCESS_DENIED), C(NERR_LDAPCapableDCRequired), C(ERROR_INVALID_PARAMETER).
  - A caller who is not a member of Domain Admins, Enterprise Admins, Administrators or Account Operators creates at
    most C(ms-DS-MachineAccountQuota) accounts (default 10), counting those it created before, as a Windows DC
    enforces it (Samba DCs do not); the next one fails with C(ERROR_DS_MACHINE_ACCOUNT_QUOTA_EXCEEDED) naming the
    quota, and the machines made before it are reported.
  - Progress. Run in the controller process (O(execution)), a batch of ten machines or more prints
    lines C(n/N done, F failed) every five seconds or every tenth of the batch. A module sends its
    result only when it ends, so with O(execution=module) or on a remote host there is no progress on the
    controller; follow the NetSetup log (O(netsetup_log)) on that host instead (C(tail -f)), which gets a line as
    each machine finishes. With C(-v) or on failure, the result of a batch of more than ten machines is printed
    indented rather than as one line.
'''

EXAMPLES = r'''
- name: One package per machine for a batch of kiosks, in the computers container
  winimage.provisioning.odj_provision:
    domain: corp.example.com
    machines: "{{ groups['kiosks'] }}"
    domain_username: svc-odj@corp.example.com
    domain_password: "{{ vault_svc_odj_password }}"
    dest: /srv/odj/packages
  delegate_to: localhost
  run_once: true
  register: provisioned

- name: Into an OU, through a given DC, files encrypted with the vault id "odj"
  winimage.provisioning.odj_provision:
    domain: corp.example.com
    machines: [WS0101, WS0102]
    machine_account_ou: OU=Workstations,OU=Paris,DC=corp,DC=example,DC=com
    domain_server: dc01.corp.example.com
    ca_cert: /etc/pki/corp-root.pem
    domain_username: svc-odj@corp.example.com
    domain_password: "{{ vault_svc_odj_password }}"
    dest: /srv/odj/packages
    package_format: base64
    vault_id: odj
  delegate_to: localhost

- name: Against a DC with no certificate that requires signing (sealed SASL, NTLM or Kerberos; a bare user name)
  winimage.provisioning.odj_provision:
    domain: corp.example.com
    machines: [WS0104]
    domain_server: dc02.corp.example.com
    tls_mode: none
    domain_username: svc-odj
    domain_password: "{{ vault_svc_odj_password }}"
    dest: /srv/odj/packages
  delegate_to: localhost

- name: With a Kerberos keytab instead of a password
  winimage.provisioning.odj_provision:
    domain: corp.example.com
    machines: WS0103
    domain_username: svc-odj@CORP.EXAMPLE.COM
    keytab: /etc/odj/svc-odj.keytab
    dest: /srv/odj/packages
  delegate_to: localhost

- name: In an AWX job template (relaunch-safe; each slice provisions its own hosts into a shared store)
  winimage.provisioning.odj_provision:
    domain: corp.example.com
    machines: "{{ ansible_play_hosts | map('extract', hostvars, 'odj_name') | list }}"
    domain_username: svc-odj@corp.example.com
    domain_password: "{{ vault_svc_odj_password }}"
    dest: /mnt/odj-store/packages
    vault_id: odj
    lock_timeout: 1800
  delegate_to: localhost
  run_once: true

- name: Re-provision machines whose accounts already exist (their passwords are reset)
  winimage.provisioning.odj_provision:
    domain: corp.example.com
    machines: [WS0042]
    reuse_account: true
    domain_username: svc-odj@corp.example.com
    domain_password: "{{ vault_svc_odj_password }}"
    dest: /srv/odj/packages
  delegate_to: localhost

- name: Re-image a machine that is in use (it loses its domain trust until it boots with the new package)
  winimage.provisioning.odj_provision:
    domain: corp.example.com
    machines: [WS0042]
    reset_accounts_in_use: true
    domain_username: svc-odj@corp.example.com
    domain_password: "{{ vault_svc_odj_password }}"
    dest: /srv/odj/packages
  delegate_to: localhost
'''

RETURN = r'''
connection:
  description:
    - How the task reached the DC - C(transport) (V(ldaps), V(start_tls) or V(sasl)), C(auth) (V(kerberos), V(ntlm)
      or V(simple)), C(server), C(port), and C(sealed) (the SASL layer encrypts).
  returned: when a DC was reached
  type: dict
  sample: {transport: sasl, auth: kerberos, server: dc1.corp.example.com, port: 389, sealed: true}
machines:
  description: The outcome for every requested machine, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The computer name (upper case), or the name as given when it is invalid.
      type: str
      sample: WS0101
    status:
      description:
        - V(created), V(reused) (password of an existing account reset), V(unchanged), V(conflict),
          V(invalid), V(failed); in check mode V(would_create) and V(would_reuse) instead of the first two.
      type: str
      sample: created
    changed:
      description: Whether this machine's account or file changed (or would, in check mode).
      type: bool
    msg:
      description: What happened or what is wrong, without secrets.
      type: str
    dn:
      description: Distinguished name of the account.
      type: str
      sample: CN=WS0101,CN=Computers,DC=corp,DC=example,DC=com
    sid:
      description: SID of the account.
      type: str
    rid:
      description: RID of the account.
      type: int
      sample: 1105
    object_guid:
      description: objectGUID of the account.
      type: str
    path:
      description: The package file.
      type: str
      sample: /srv/odj/packages/WS0101.djoin
    password_verified:
      description:
        - V(true) when the password of the machine's package works (an existing package's was tried, or a new
          package's right after the account was created or reset).
        - V(false) when it does not; a new package whose password someone else changed meanwhile fails the machine.
      type: bool
    package:
      description: The package as one line of base64 (only with O(return_package=true)). Holds the machine password.
      type: str
    error:
      description: Windows name and number of this machine's failure (for example V(NERR_UserExists), 2224).
      type: dict
      returned: when the machine failed
  sample:
    - name: WS0101
      status: created
      changed: true
      msg: account created
      dn: CN=WS0101,CN=Computers,DC=corp,DC=example,DC=com
      sid: S-1-5-21-1004336348-1177238915-682003330-1105
      rid: 1105
      object_guid: 0b6f3b4e-3d4b-4b2e-9bde-0a6f0c1f7a11
      path: /srv/odj/packages/WS0101.djoin
      password_verified: null
error_name:
  description: Windows name of the error that failed the whole run (for example V(ERROR_LOGON_FAILURE)).
  returned: when the run failed before the machines
  type: str
  sample: ERROR_NO_SUCH_DOMAIN
error_code:
  description: Number of RV(error_name).
  returned: when the run failed before the machines
  type: int
  sample: 1355
error_kind:
  description: Short cause of a run-level failure (unreachable, bad_credentials, ou_missing, tls, options, ...).
  returned: when the run failed before the machines
  type: str
  sample: unreachable
extra_parts:
  description: What went into the extra parts (policy sources, number of CA certificates, warnings).
  returned: when policies, root CA certificates or the persistent site were asked for
  type: dict
dest_created:
  description: V(true) when O(dest) did not exist and was created (in check mode, would be).
  returned: when O(dest) was missing
  type: bool
  sample: true
failed_machines:
  description: Names of the machines that failed (invalid, conflict, failed).
  returned: always
  type: list
  elements: str
  sample: [BAD_NAME]
counts:
  description: Number of machines per status.
  returned: always
  type: dict
  sample: {created: 99, invalid: 1}
domain:
  description: What the DC reported about the domain and itself (what goes into the packages).
  returned: when the DC was reached
  type: dict
  contains:
    dns_domain:
      description: DNS name of the domain.
      type: str
    netbios_name:
      description: NetBIOS name of the domain.
      type: str
    forest:
      description: DNS name of the forest.
      type: str
    sid:
      description: Domain SID.
      type: str
    guid:
      description: Domain GUID.
      type: str
    dc_name:
      description: DNS name of the DC.
      type: str
    dc_address:
      description: Address the DC was reached at.
      type: str
    dc_flags:
      description: DC flags (the LDAP ping's, plus the DNS name flags C(DsGetDcName) adds).
      type: int
    dc_site_name:
      description: Site of the DC.
      type: str
    client_site_name:
      description: Site of the provisioning host as the DC sees it.
      type: str
    machine_account_ou:
      description: Where new accounts go.
      type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.winimage.provisioning.plugins.module_utils.provision.task import (
    ARGUMENT_SPEC, SPEC_KWARGS, TaskFailed, execute)


def command_runner(module):
    """run_command for ADClient: (argv, stdin bytes, environment) -> (rc, stdout, stderr)."""
    def run(argv, data, env):
        return module.run_command(argv, data=data, binary_data=True, environ_update=env)
    return run


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **SPEC_KWARGS)
    try:
        result = execute(module.params, module.check_mode, module._diff, command_runner(module), module.warn)
    except TaskFailed as exc:
        module.fail_json(msg=str(exc), **exc.result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
