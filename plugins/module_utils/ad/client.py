# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``ADClient``: the provisioner's one connection to one DC, with the domain and account operations on it.

``ADClient`` is a ``connection.Connection`` (transport, bind, search); each
other method is a thin caller of the module that holds its concern:

* ``netlogon_ping``, ``domain_info``: ``locator`` (the DC locator);
* ``find_accounts``, ``queue_find_accounts``, ``computer_attributes``,
  ``computer_dn``, ``queue_create_computer``, ``queue_set_password``,
  ``set_password``: ``accounts`` (computer accounts);
* ``verify_password``, ``verify_passwords``: ``secret`` (does a machine
  password authenticate, Kerberos first).

DC discovery from DNS is ``locator.discover_dcs``; the module options are
``options.CONNECTION_ARGUMENT_SPEC`` and ``options.client_options``.
"""

from __future__ import annotations

from ansible_collections.winimage.provisioning.plugins.module_utils.ad import accounts as _accounts
from ansible_collections.winimage.provisioning.plugins.module_utils.ad import locator as _locator
from ansible_collections.winimage.provisioning.plugins.module_utils.ad import secret as _secret
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.connection import Connection


class ADClient(Connection):
    """One authenticated LDAP connection to one DC (``Connection``) and what the provisioner does over it."""

    # -- the domain and the DC (locator) --
    def netlogon_ping(self, dns_domain, nt_version=_locator.DEFAULT_NT_VERSION, domain_guid=None):
        """The LDAP ping (MS-ADTS 6.3.3) -> NetlogonInfo."""
        return _locator.netlogon_ping(self, dns_domain, nt_version, domain_guid)

    def domain_info(self, dns_domain):
        """Everything the package needs about the domain and this DC (DomainInfo)."""
        return _locator.domain_info(self, dns_domain)

    # -- computer accounts --
    computer_attributes = staticmethod(_accounts.computer_attributes)
    computer_dn = staticmethod(_accounts.computer_dn)

    def find_accounts(self, base_dn, names, chunk=100):
        """{NAME: Account} for the accounts named NAME$ (any object class) under base_dn."""
        return _accounts.find_accounts(self, base_dn, names, chunk)

    def set_password(self, dn, password):
        """Administrative reset of unicodePwd (TLS or sealed connection)."""
        _accounts.set_password(self, dn, password)

    def queue_create_computer(self, pipe, name, ou_dn, dns_domain, password, callback,
                              enctypes=_accounts.DEFAULT_ENCTYPES, description=None):
        """Queue the add of a new computer account with its password; returns the DN."""
        return _accounts.queue_create_computer(self, pipe, name, ou_dn, dns_domain, password, callback, enctypes,
                                               description)

    def queue_set_password(self, pipe, dn, password, callback):
        """Queue an administrative reset of unicodePwd; ``callback(error)`` gets None or an ADError."""
        _accounts.queue_set_password(self, pipe, dn, password, callback)

    @staticmethod
    def queue_find_accounts(pipe, base_dn, names, callback, first=False):
        """Queue find_accounts for up to a hundred names; ``callback(found, error)``."""
        _accounts.queue_find_accounts(pipe, base_dn, names, callback, first)

    # -- password checks (secret) --
    def verify_password(self, account_dn, password, sam_account_name=None, realm=None, kdc=None):
        """True when password is the account's current password (Kerberos first)."""
        return _secret.verify_password(self, account_dn, password, sam_account_name, realm, kdc)

    def verify_passwords(self, checks, workers=8):
        """verify_password for many (account_dn, password, sam_account_name, realm): True, False or ADError each."""
        return _secret.verify_passwords(self, checks, workers)
