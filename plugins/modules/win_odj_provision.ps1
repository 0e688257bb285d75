#!powershell

# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell Ansible.ModuleUtils.AddType

$spec = @{
    options = @{
        domain = @{ type = 'str'; required = $true }
        machine_name = @{ type = 'str'; required = $true }
        machine_account_ou = @{ type = 'str' }
        dc_name = @{ type = 'str' }
        provision_options = @{
            type = 'list'
            elements = 'str'
            default = @()
            choices = 'reuse_account', 'use_default_password', 'skip_account_search', 'root_ca_certs', 'persistent_site',
            'downlevel_priv_support'
        }
        certificate_templates = @{ type = 'list'; elements = 'str'; default = @() }
        policy_names = @{ type = 'list'; elements = 'str'; default = @() }
        policy_paths = @{ type = 'list'; elements = 'path'; default = @() }
        dest = @{ type = 'path'; required = $true }
        format = @{ type = 'str'; choices = 'djoin_file', 'raw', 'base64'; default = 'djoin_file' }
        force = @{ type = 'bool'; default = $false }
        return_package = @{ type = 'bool'; default = $false }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

# NETSETUP_PROVISION_* (lmjoin.h); ONLINE_CALLER is for installs only and not offered here.
$provisionFlags = @{
    downlevel_priv_support = 0x1
    reuse_account = 0x2
    use_default_password = 0x4
    skip_account_search = 0x8
    root_ca_certs = 0x10
    persistent_site = 0x20
}

# NET_API_STATUS names for messages. Same numbers and names as
# plugins/module_utils/_netapi_errors.py (a unit test checks they agree).
$netApiErrors = @{
    5 = 'ERROR_ACCESS_DENIED', 'Access is denied: the account needs the right to create or reset computer accounts in the OU.'
    50 = 'ERROR_NOT_SUPPORTED', 'The request is not supported.'
    87 = 'ERROR_INVALID_PARAMETER', 'The parameter is incorrect (check domain, machine name, OU and options).'
    1210 = 'ERROR_INVALID_COMPUTERNAME', 'The format of the specified computer name is invalid.'
    1326 = 'ERROR_LOGON_FAILURE', 'The user name or password is incorrect.'
    1354 = 'ERROR_INVALID_DOMAIN_ROLE', 'The operation cannot be completed with the computer in its present role.'
    1355 = 'ERROR_NO_SUCH_DOMAIN', 'The specified domain either does not exist or could not be contacted.'
    1722 = 'RPC_S_SERVER_UNAVAILABLE', 'The RPC server is unavailable.'
    2224 = 'NERR_UserExists', 'The computer account already exists: add reuse_account to provision_options.'
    2697 = 'NERR_ComputerAccountNotFound', 'The specified computer account could not be found.'
    2699 = 'NERR_SetupCheckDNSConfig', 'Resolving the DNS name of a domain controller of the domain failed.'
    2718 = 'NERR_ConnectionInsecure', 'The minimum session security requirements for this operation were not met.'
    2720 = 'NERR_DS8DCRequired', 'The specified domain controller does not meet the version requirement for this operation.'
    2721 = 'NERR_LDAPCapableDCRequired', 'This operation requires a domain controller which supports LDAP.'
    2722 = 'NERR_DS8DCNotFound', 'A domain controller which meets the version requirement could not be located.'
    8240 = 'ERROR_DS_NO_SUCH_OBJECT', 'There is no such object on the server (does the machine account OU exist?).'
    8557 = 'ERROR_DS_MACHINE_ACCOUNT_QUOTA_EXCEEDED', 'The caller has exceeded the number of computer accounts it may create.'
}

$csharp = @'
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace WinImage.Provisioning.OdjProvision
{
    public static class Provisioner
    {
        public const int NETSETUP_PROVISIONING_PARAMS_WIN8_VERSION = 1;

        [StructLayout(LayoutKind.Sequential, CharSet = CharSet.Unicode)]
        private struct NETSETUP_PROVISIONING_PARAMS
        {
            public int dwVersion;
            public string lpDomain;
            public string lpHostName;
            public string lpMachineAccountOU;
            public string lpDcName;
            public int dwProvisionOptions;
            public IntPtr aCertTemplateStrings;
            public int cCertTemplateStrings;
            public IntPtr aMachinePolicyNames;
            public int cMachinePolicyNames;
            public IntPtr aMachinePolicyPaths;
            public int cMachinePolicyPaths;
        }

        [DllImport("netapi32.dll", CharSet = CharSet.Unicode)]
        private static extern int NetCreateProvisioningPackage(
            ref NETSETUP_PROVISIONING_PARAMS pProvisioningParams,
            out IntPtr ppPackageBinData,
            out int pdwPackageBinDataSize,
            IntPtr ppPackageTextData);

        [DllImport("netapi32.dll")]
        private static extern int NetApiBufferFree(IntPtr buffer);

        private static IntPtr StringArray(string[] items, List<IntPtr> allocations)
        {
            if (items == null || items.Length == 0)
                return IntPtr.Zero;
            IntPtr array = Marshal.AllocHGlobal(IntPtr.Size * items.Length);
            allocations.Add(array);
            for (int i = 0; i < items.Length; i++)
            {
                IntPtr text = Marshal.StringToHGlobalUni(items[i]);
                allocations.Add(text);
                Marshal.WriteIntPtr(array, i * IntPtr.Size, text);
            }
            return array;
        }

        // Returns the NET_API_STATUS; package holds the raw package bytes on success.
        public static int Create(string domain, string hostName, string machineAccountOU, string dcName, int options,
            string[] certTemplates, string[] policyNames, string[] policyPaths, out byte[] package)
        {
            package = null;
            List<IntPtr> allocations = new List<IntPtr>();
            IntPtr buffer = IntPtr.Zero;
            try
            {
                NETSETUP_PROVISIONING_PARAMS p = new NETSETUP_PROVISIONING_PARAMS();
                p.dwVersion = NETSETUP_PROVISIONING_PARAMS_WIN8_VERSION;
                p.lpDomain = domain;
                p.lpHostName = hostName;
                p.lpMachineAccountOU = String.IsNullOrEmpty(machineAccountOU) ? null : machineAccountOU;
                p.lpDcName = String.IsNullOrEmpty(dcName) ? null : dcName;
                p.dwProvisionOptions = options;
                p.aCertTemplateStrings = StringArray(certTemplates, allocations);
                p.cCertTemplateStrings = certTemplates == null ? 0 : certTemplates.Length;
                p.aMachinePolicyNames = StringArray(policyNames, allocations);
                p.cMachinePolicyNames = policyNames == null ? 0 : policyNames.Length;
                p.aMachinePolicyPaths = StringArray(policyPaths, allocations);
                p.cMachinePolicyPaths = policyPaths == null ? 0 : policyPaths.Length;

                int size;
                int status = NetCreateProvisioningPackage(ref p, out buffer, out size, IntPtr.Zero);
                if (status != 0)
                    return status;
                package = new byte[size];
                Marshal.Copy(buffer, package, 0, size);
                // scrub the native copy (it holds the machine password) before freeing it
                Marshal.Copy(new byte[size], 0, buffer, size);
                return 0;
            }
            finally
            {
                if (buffer != IntPtr.Zero)
                    NetApiBufferFree(buffer);
                foreach (IntPtr allocation in allocations)
                    Marshal.FreeHGlobal(allocation);
            }
        }
    }
}
'@

function Protect-PackageFile {
    param([string]$LiteralPath)
    $owner = [System.Security.Principal.WindowsIdentity]::GetCurrent().User
    $system = New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList 'S-1-5-18'
    $acl = New-Object -TypeName System.Security.AccessControl.FileSecurity
    $acl.SetAccessRuleProtection($true, $false)
    $acl.SetOwner($owner)
    foreach ($sid in @($owner, $system)) {
        $rule = New-Object -TypeName System.Security.AccessControl.FileSystemAccessRule -ArgumentList $sid, 'FullControl', 'Allow'
        $acl.AddAccessRule($rule)
    }
    Set-Acl -LiteralPath $LiteralPath -AclObject $acl
}

$dest = $module.Params.dest
$format = $module.Params.format
$options = 0
foreach ($name in $module.Params.provision_options) {
    $options = $options -bor $provisionFlags[$name]
}

$module.Result.dest = $dest
$module.Result.format = $format
$module.Result.machine_name = $module.Params.machine_name
$module.Result.domain = $module.Params.domain
$module.Result.provision_options = $options
$module.Result.changed = $false

if ([System.IO.File]::Exists($dest) -and -not $module.Params.force) {
    $module.Result.msg = 'the package file exists; nothing was provisioned (set force=true to provision again)'
    $module.ExitJson()
}
$directory = [System.IO.Path]::GetDirectoryName($dest)
if (-not $directory -or -not [System.IO.Directory]::Exists($directory)) {
    $module.FailJson("the folder of dest '$dest' does not exist")
}
if ($module.CheckMode) {
    $module.Result.changed = $true
    $module.ExitJson()
}

Add-CSharpType -AnsibleModule $module -References $csharp

# The temporary file gets its owner+SYSTEM-only ACL while still empty, before any secret is written.
$tmp = [System.IO.Path]::Combine($directory, '.' + [System.IO.Path]::GetFileName($dest) + '.' + [System.Guid]::NewGuid().ToString('N') + '.tmp')
$raw = $null
$data = $null
try {
    [System.IO.File]::WriteAllBytes($tmp, [byte[]]@())
    Protect-PackageFile -LiteralPath $tmp

    $status = [WinImage.Provisioning.OdjProvision.Provisioner]::Create(
        $module.Params.domain, $module.Params.machine_name, $module.Params.machine_account_ou, $module.Params.dc_name,
        $options, [string[]]@($module.Params.certificate_templates), [string[]]@($module.Params.policy_names),
        [string[]]@($module.Params.policy_paths), [ref]$raw)
    if ($status -ne 0) {
        $known = $netApiErrors[[int]$status]
        if ($known) {
            $text = "$($known[0]) ($status): $($known[1])"
        }
        else {
            $text = "NET_API_STATUS $status (0x{0:X8}): {1}" -f $status, (New-Object -TypeName System.ComponentModel.Win32Exception -ArgumentList $status).Message
        }
        $module.Result.status = $status
        $module.FailJson("NetCreateProvisioningPackage failed for $($module.Params.machine_name) in $($module.Params.domain): $text")
    }

    $base64 = [System.Convert]::ToBase64String($raw)
    if ($format -eq 'raw') {
        $data = $raw
    }
    elseif ($format -eq 'base64') {
        $data = [System.Text.Encoding]::ASCII.GetBytes($base64)
    }
    else {
        $text = [System.Text.Encoding]::Unicode.GetBytes($base64 + [char]0)
        $data = New-Object -TypeName byte[] -ArgumentList ($text.Length + 2)
        $data[0] = 0xFF
        $data[1] = 0xFE
        [System.Array]::Copy($text, 0, $data, 2, $text.Length)
        [System.Array]::Clear($text, 0, $text.Length)
    }
    [System.IO.File]::WriteAllBytes($tmp, $data)
    if ([System.IO.File]::Exists($dest)) {
        [System.IO.File]::Replace($tmp, $dest, $null)
        Protect-PackageFile -LiteralPath $dest
    }
    else {
        [System.IO.File]::Move($tmp, $dest)
    }
    $module.Result.changed = $true
    $module.Result.size = $data.Length
    if ($module.Params.return_package) {
        $module.Result.package = $base64
    }
}
finally {
    if ($null -ne $raw) {
        [System.Array]::Clear($raw, 0, $raw.Length)
    }
    if ($null -ne $data) {
        [System.Array]::Clear($data, 0, $data.Length)
    }
    if ([System.IO.File]::Exists($tmp)) {
        [System.IO.File]::Delete($tmp)
    }
}

$module.ExitJson()
