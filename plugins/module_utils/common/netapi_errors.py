# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names and messages of the NET_API_STATUS values the offline-join APIs return.

``NetCreateProvisioningPackage``, ``NetProvisionComputerAccount`` and
``NetRequestProvisioningPackageInstall`` return a NET_API_STATUS: either a
Network Management code (``NERR_*``, lmerr.h, ``NERR_BASE`` = 2100) or a Win32
error (``ERROR_*``, winerror.h). The numbers below come from the Windows SDK
headers (lmerr.h / winerror.h, as mirrored by the Windows metadata projections);
the messages follow Microsoft's documentation of those codes, with a hint where
the usual cause is known. Used by the Windows modules (through their action
plugins) and by the Linux provisioner for error names.
"""

from __future__ import annotations

import collections

NetApiError = collections.namedtuple('NetApiError', ['code', 'name', 'message'])

NERR_BASE = 2100

# (name, number, message). Numbers: lmerr.h (NERR_BASE + n) and winerror.h.
_TABLE = (
    ('NERR_Success', 0, 'The operation completed successfully.'),
    # Win32 (winerror.h)
    ('ERROR_FILE_NOT_FOUND', 2, 'The system cannot find the file specified.'),
    ('ERROR_PATH_NOT_FOUND', 3, 'The system cannot find the path specified.'),
    ('ERROR_ACCESS_DENIED', 5, 'Access is denied. The caller lacks the right to create or modify the computer account '
                               '(or, for an install, to modify the image): run elevated, or use an account '
                               'with the needed delegation on the target OU.'),
    ('ERROR_NOT_ENOUGH_MEMORY', 8, 'Not enough memory resources are available to process this command.'),
    ('ERROR_BAD_FORMAT', 11, 'An attempt was made to load a program or data with an incorrect format.'),
    ('ERROR_INVALID_DATA', 13, 'The data is invalid.'),
    ('ERROR_SHARING_VIOLATION', 32, 'The file is in use by another process (is the image still booted, or the hive loaded elsewhere?).'),
    ('ERROR_NOT_SUPPORTED', 50, 'The request is not supported.'),
    ('ERROR_BAD_NETPATH', 53, 'The network path was not found.'),
    ('ERROR_BAD_NET_NAME', 67, 'The network name cannot be found.'),
    ('ERROR_FILE_EXISTS', 80, 'The file exists.'),
    ('ERROR_INVALID_PASSWORD', 86, 'The specified network password is not correct.'),
    ('ERROR_INVALID_PARAMETER', 87, 'The parameter is incorrect (check the domain, machine name, OU and option flags; '
                                    'NETSETUP_PROVISION_ONLINE_CALLER is only valid for the running system).'),
    ('ERROR_CALL_NOT_IMPLEMENTED', 120, 'This function is not supported on this system.'),
    ('ERROR_INVALID_NAME', 123, 'The filename, directory name, or volume label syntax is incorrect.'),
    ('ERROR_ALREADY_EXISTS', 183, 'Cannot create a file when that file already exists.'),
    ('ERROR_MORE_DATA', 234, 'More data is available.'),
    ('ERROR_INVALID_FLAGS', 1004, 'Invalid flags.'),
    ('ERROR_INVALID_COMPUTERNAME', 1210, 'The format of the specified computer name is invalid.'),
    ('ERROR_PRIVILEGE_NOT_HELD', 1314, 'A required privilege is not held by the client (run elevated).'),
    ('ERROR_NO_SUCH_USER', 1317, 'The specified account does not exist.'),
    ('ERROR_LOGON_FAILURE', 1326, 'The user name or password is incorrect.'),
    ('ERROR_INVALID_DOMAIN_ROLE', 1354, 'The requested operation cannot be completed with the computer in its present role '
                                        '(a domain controller cannot be provisioned or offline-joined).'),
    ('ERROR_NO_SUCH_DOMAIN', 1355, 'The specified domain either does not exist or could not be contacted '
                                   '(no domain controller found: check DNS and the domain / DC name).'),
    ('ERROR_WRONG_TARGET_NAME', 1396, 'The target account name is incorrect.'),
    ('RPC_S_PROTSEQ_NOT_SUPPORTED', 1703, 'The RPC protocol sequence is not supported (the domain controller '
                                          'cannot be reached over the RPC transport the call needs).'),
    ('RPC_S_SERVER_UNAVAILABLE', 1722, 'The RPC server is unavailable.'),
    ('RPC_S_CALL_IN_PROGRESS', 1791, 'A remote procedure call is already in progress for this thread '
                                     '(retry the task; do not run several provisioning calls in one process).'),
    ('ERROR_NO_TRUST_SAM_ACCOUNT', 1787, 'The SAM database on the domain controller does not have a computer account for this workstation trust relationship.'),
    ('ERROR_OBJECT_ALREADY_EXISTS', 5010, 'The object already exists.'),
    ('ERROR_DS_NO_SUCH_OBJECT', 8240, 'There is no such object on the server (does the machine account OU exist?).'),
    ('ERROR_DS_MACHINE_ACCOUNT_QUOTA_EXCEEDED', 8557, 'The caller has exceeded the maximum number of computer accounts it is allowed '
                                                      'to create in this domain (ms-DS-MachineAccountQuota).'),
    # Network Management (lmerr.h)
    ('NERR_WkstaNotStarted', 2138, 'The Workstation service has not been started (start the LanmanWorkstation '
                                   'service on the provisioning host).'),
    ('NERR_UserExists', 2224, 'The computer account already exists (provision with reuse of the account, '
                              'or remove the existing account first).'),
    ('NERR_SetupAlreadyJoined', 2691, 'This computer is already joined to a domain.'),
    ('NERR_SetupNotJoined', 2692, 'This computer is not currently joined to a domain.'),
    ('NERR_SetupDomainController', 2693, 'This computer is a domain controller and cannot be unjoined from a domain.'),
    ('NERR_DefaultJoinRequired', 2694, 'The destination domain controller does not support creating machine accounts in OUs.'),
    ('NERR_InvalidWorkgroupName', 2695, 'The specified workgroup name is invalid.'),
    ('NERR_NameUsesIncompatibleCodePage', 2696, 'The specified computer name is incompatible with the default language used on the domain controller.'),
    ('NERR_ComputerAccountNotFound', 2697, 'The specified computer account could not be found.'),
    ('NERR_PersonalSku', 2698, 'This version of Windows cannot be joined to a domain.'),
    ('NERR_SetupCheckDNSConfig', 2699, 'An attempt to resolve the DNS name of a domain controller in the domain being joined has failed.'),
    ('NERR_AlreadyCloudDomainJoined', 2700, 'This device is joined to Azure AD; it cannot also be joined to an on-premises domain this way.'),
    ('NERR_PasswordMustChange', 2701, 'The password must change at the next logon.'),
    ('NERR_AccountLockedOut', 2702, 'The account is locked out.'),
    ('NERR_PasswordTooLong', 2703, 'The password is too long.'),
    ('NERR_PasswordNotComplexEnough', 2704, 'The password does not meet the complexity policy.'),
    ('NERR_PasswordFilterError', 2705, 'The password does not meet the requirements of the password filter DLLs.'),
    ('NERR_NoOfflineJoinInfo', 2709, 'The offline join completion information was not found.'),
    ('NERR_BadOfflineJoinInfo', 2710, 'The offline join completion information was bad (the package is damaged or not a provisioning package).'),
    ('NERR_CantCreateJoinInfo', 2711, 'Unable to create offline join information. Ensure you have access to the specified path location '
                                      'and permission to modify its contents; running as an elevated administrator may be required.'),
    ('NERR_BadDomainJoinInfo', 2712, 'The domain join info being saved was incomplete or bad.'),
    ('NERR_JoinPerformedMustRestart', 2713, 'Offline join operation successfully completed but a restart is needed.'),
    ('NERR_NoJoinPending', 2714, 'There was no offline join operation pending.'),
    ('NERR_ValuesNotSet', 2715, 'Unable to set one or more requested machine or domain name values on the local computer.'),
    ('NERR_CantVerifyHostname', 2716, "Could not verify the current machine's hostname against the saved value in the join completion information."),
    ('NERR_CantLoadOfflineHive', 2717, 'Unable to load the specified offline registry hive. Ensure you have access to the specified path location '
                                       'and permission to modify its contents; running as an elevated administrator may be required '
                                       '(is the path the Windows folder of a mounted, not booted, image?).'),
    ('NERR_ConnectionInsecure', 2718, 'The minimum session security requirements for this operation were not met.'),
    ('NERR_ProvisioningBlobUnsupported', 2719, 'Computer account provisioning blob version is not supported '
                                               '(the target Windows is older than the package format).'),
    ('NERR_DS8DCRequired', 2720, 'The specified domain controller does not meet the version requirement for this operation '
                                 '(a domain controller capable of issuing claims is required).'),
    ('NERR_LDAPCapableDCRequired', 2721, 'This operation requires a domain controller which supports LDAP.'),
    ('NERR_DS8DCNotFound', 2722, 'A domain controller which meets the version requirement for this operation could not be located.'),
    ('NERR_TargetVersionUnsupported', 2723, 'The Windows version of the specified image does not support provisioning.'),
    ('NERR_InvalidMachineNameForJoin', 2724, 'The machine name is blocked from joining the domain.'),
    ('NERR_DS9DCNotFound', 2725, 'The domain controller does not meet the version requirement for this operation.'),
    ('NERR_PlainTextSecretsRequired', 2726, 'The local machine does not allow querying of LSA secrets in plain text.'),
    ('NERR_CannotUnjoinAadDomain', 2727, 'Unable to leave the Azure AD domain that this machine is joined to.'),
)

BY_CODE = dict((code, NetApiError(code, name, message)) for name, code, message in _TABLE)
BY_NAME = dict((name, NetApiError(code, name, message)) for name, code, message in _TABLE)

# Codes that mean "done, but the machine must restart to finish".
RESTART_CODES = frozenset([BY_NAME['NERR_JoinPerformedMustRestart'].code])


def _to_code(value):
    if isinstance(value, bool):
        raise TypeError('a NET_API_STATUS is an integer, not a bool')
    if isinstance(value, str):
        text = value.strip()
        value = int(text, 16) if text.lower().startswith('0x') else int(text)
    value = int(value)
    if value < 0:
        value &= 0xFFFFFFFF
    return value


def lookup(value):
    """Return the NetApiError for a code (int, '0x..' or decimal text) or a name; None if unknown."""
    if isinstance(value, str) and not value.strip().lstrip('-').isdigit() and not value.strip().lower().startswith('0x'):
        return BY_NAME.get(value.strip())
    code = _to_code(value)
    err = BY_CODE.get(code)
    if err is None and code & 0xFFFF0000 == 0x80070000:
        # HRESULT_FROM_WIN32 wrapping of a Win32 code
        err = BY_CODE.get(code & 0xFFFF)
    return err


def error_name(value):
    """The symbolic name of a code, or 'UNKNOWN_<n>' for one not in the table."""
    err = lookup(value)
    if err is not None:
        return err.name
    return 'UNKNOWN_%d' % _to_code(value)


def code_of(name):
    """The number of a symbolic name; KeyError naming it when unknown."""
    try:
        return BY_NAME[name].code
    except KeyError:
        raise KeyError('unknown NET_API_STATUS name %r' % (name,))


def describe(value, operation=None):
    """A one-line message: '<operation> failed: <NAME> (<n>): <message>'.

    ``value`` is the returned NET_API_STATUS. Unknown codes still carry the number
    (in decimal and hex) so they can be looked up.
    """
    code = _to_code(value)
    err = lookup(code)
    if err is None:
        text = 'UNKNOWN_%d (%d, 0x%08X): no description known for this code' % (code, code, code)
    else:
        text = '%s (%d): %s' % (err.name, err.code, err.message)
    if operation:
        return '%s failed: %s' % (operation, text)
    return text


def is_restart_required(value):
    """True for the codes that mean the operation worked but needs a restart."""
    return _to_code(value) in RESTART_CODES


def as_dict(value):
    """{'code': n, 'name': 'NERR_...', 'message': '...'} for result dictionaries."""
    code = _to_code(value)
    err = lookup(code)
    return {
        'code': code,
        'name': err.name if err else 'UNKNOWN_%d' % code,
        'message': err.message if err else 'no description known for this code',
    }
