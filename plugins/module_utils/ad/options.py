# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of every module that talks to a DC (odj_provision, odj_verify_secret) and what they mean.

``CONNECTION_ARGUMENT_SPEC`` holds the names and meanings of the microsoft.ad
LDAP options, with ``WINIMAGE_*`` environment fallbacks; ``client_options``
turns validated module params into ``ADClient`` keyword arguments;
``qualify_user`` qualifies a bare user name as ``net -U`` and Windows do.
"""

from __future__ import annotations

import os

from ansible_collections.winimage.provisioning.plugins.module_utils.ad.errors import ADError
from ansible_collections.winimage.provisioning.plugins.module_utils.common.options import env

TLS_MODES = ('auto', 'ldaps', 'start_tls', 'none')
AUTH_PROTOCOLS = ('negotiate', 'kerberos', 'ntlm', 'simple')
CERT_VALIDATIONS = ('always', 'ignore', 'ignore_hostname')

CONNECTION_ARGUMENT_SPEC = dict(
    domain_server=dict(type='str', aliases=['domain_controller', 'dc_name'], fallback=env('WINIMAGE_DOMAIN_SERVER')),
    port=dict(type='int'),
    domain_username=dict(type='str', fallback=env('WINIMAGE_DOMAIN_USERNAME')),
    domain_password=dict(type='str', no_log=True, fallback=env('WINIMAGE_DOMAIN_PASSWORD')),
    auth_protocol=dict(type='str', default='negotiate', choices=list(AUTH_PROTOCOLS),
                       fallback=env('WINIMAGE_AUTH_PROTOCOL')),
    encrypt=dict(type='bool', default=True),
    tls_mode=dict(type='str', default='auto', choices=list(TLS_MODES), fallback=env('WINIMAGE_TLS_MODE')),
    cert_validation=dict(type='str', default='always', choices=list(CERT_VALIDATIONS),
                         fallback=env('WINIMAGE_CERT_VALIDATION')),
    validate_certs=dict(type='bool', removed_in_version='1.0.0', removed_from_collection='winimage.provisioning'),
    ca_cert=dict(type='path', aliases=['ca_file'], fallback=env('WINIMAGE_CA_CERT')),
    ccache=dict(type='str'),
    keytab=dict(type='path', no_log=False, fallback=env('WINIMAGE_KEYTAB')),
)


def client_options(params, domain=None, run_command=None):
    """ADClient keyword arguments (all but the server) from validated module params (CONNECTION_ARGUMENT_SPEC)."""
    validation = params['cert_validation']
    if params.get('validate_certs') is False:
        validation = 'ignore'
    if params['ca_cert'] and not os.path.isfile(params['ca_cert']):
        raise ADError('ca_cert %s does not exist' % params['ca_cert'], 'options')
    kwargs = dict(port=params['port'], tls_mode=params['tls_mode'], auth_protocol=params['auth_protocol'],
                  cert_validation=validation, ca_cert=params['ca_cert'], encrypt=params['encrypt'],
                  timeout=params['timeout'], domain=domain, run_command=run_command,
                  username=params['domain_username'], password=params['domain_password'])
    if params['domain_password'] is None:
        kwargs.update(ccache=params['ccache'], keytab=params['keytab'])
        if kwargs['auth_protocol'] == 'negotiate':
            kwargs['auth_protocol'] = 'kerberos'  # no password: a ticket is the only credential
    return kwargs


def qualify_user(username, domain):
    """A bare user name -> 'name@DOMAIN' (as ``net -U`` and Windows take it); UPN, DOMAIN\\name, DNs unchanged."""
    if not username or not domain or '@' in username or '\\' in username or '=' in username:
        return username
    return '%s@%s' % (username, domain.upper().rstrip('.'))
