#!powershell

# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell Ansible.ModuleUtils.AddType

# Thin by design: the action plugin (plugins/action/win_odj_provision.py) checks
# the options, computes the NETSETUP_PROVISION_* value, decides whether to
# provision, names errors and renders the package file. This module only
#  - query: says whether dest exists and returns its content (for the decision);
#  - create: calls NetCreateProvisioningPackage and returns the raw NET_API_STATUS
#    and, on success, the raw package;
#  - write: writes the bytes it is given to dest (temporary file with an
#    owner+SYSTEM-only ACL beside dest, then moved into place).

$spec = @{
    options = @{
        domain = @{ type = 'str'; required = $true }
        machine_name = @{ type = 'str'; required = $true }
        machine_account_ou = @{ type = 'str' }
        domain_server = @{ type = 'str'; aliases = 'domain_controller', 'dc_name' }
        reuse_account = @{ type = 'bool'; default = $false }
        use_default_password = @{ type = 'bool'; default = $false }
        skip_account_search = @{ type = 'bool'; default = $false }
        provision_root_ca_certs = @{ type = 'bool'; default = $false; aliases = 'root_ca_certs' }
        persistent_site = @{ type = 'bool'; default = $false }
        downlevel_priv_support = @{ type = 'bool'; default = $false }
        provision_options = @{
            type = 'list'
            elements = 'str'
            choices = 'downlevel_priv_support', 'persistent_site', 'reuse_account', 'root_ca_certs', 'skip_account_search',
            'use_default_password'
        }
        certificate_templates = @{ type = 'list'; elements = 'str'; default = @() }
        machine_policy_names = @{ type = 'list'; elements = 'str'; default = @(); aliases = 'policy_names' }
        machine_policy_paths = @{ type = 'list'; elements = 'str'; default = @(); aliases = 'policy_paths' }
        dest = @{ type = 'str'; required = $true }
        package_format = @{ type = 'str'; choices = 'djoin_file', 'raw', 'base64'; default = 'djoin_file'; aliases = 'format' }
        force = @{ type = 'bool'; default = $false }
        return_package = @{ type = 'bool'; default = $false }
        _phase = @{ type = 'str'; choices = 'query', 'create', 'write'; default = 'query' }
        _request = @{ type = 'dict'; default = @{} }
        _content = @{ type = 'str'; no_log = $true }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false

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
$directory = [System.IO.Path]::GetDirectoryName($dest)
$phase = $module.Params._phase

if ($phase -eq 'query') {
    $module.Result.folder_exists = [bool]($directory -and [System.IO.Directory]::Exists($directory))
    $module.Result.exists = [System.IO.File]::Exists($dest) -or [System.IO.Directory]::Exists($dest)
    $module.Result.is_file = [System.IO.File]::Exists($dest)
    if ($module.Result.is_file) {
        $length = (New-Object -TypeName System.IO.FileInfo -ArgumentList $dest).Length
        $module.Result.size = $length
        # a package file is a few KiB; anything far larger is not one and is not sent back
        if ($length -le 1048576) {
            $module.Result.existing = [System.Convert]::ToBase64String([System.IO.File]::ReadAllBytes($dest))
        }
    }
    $module.ExitJson()
}

if ($module.CheckMode) {
    $module.ExitJson()
}

if ($phase -eq 'create') {
    Add-CSharpType -AnsibleModule $module -References $csharp
    $request = $module.Params._request
    $raw = $null
    try {
        $status = [WinImage.Provisioning.OdjProvision.Provisioner]::Create(
            [string]$request['domain'], [string]$request['machine_name'], [string]$request['machine_account_ou'],
            [string]$request['dc_name'], [int]$request['options'], [string[]]@($request['certificate_templates']),
            [string[]]@($request['policy_names']), [string[]]@($request['policy_paths']), [ref]$raw)
        $module.Result.status = $status
        if ($status -eq 0) {
            $module.Result.changed = $true
            $module.Result.package_raw = [System.Convert]::ToBase64String($raw)
        }
    }
    finally {
        if ($null -ne $raw) {
            [System.Array]::Clear($raw, 0, $raw.Length)
        }
    }
    $module.ExitJson()
}

# write: the bytes the controller rendered; the temporary file gets its ACL while still empty
if (-not $module.Params._content) {
    $module.FailJson('the write phase needs _content (set by the action plugin)')
}
$tmp = [System.IO.Path]::Combine($directory, '.' + [System.IO.Path]::GetFileName($dest) + '.' + [System.Guid]::NewGuid().ToString('N') + '.tmp')
$data = $null
try {
    $data = [System.Convert]::FromBase64String($module.Params._content)
    [System.IO.File]::WriteAllBytes($tmp, [byte[]]@())
    Protect-PackageFile -LiteralPath $tmp
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
}
finally {
    if ($null -ne $data) {
        [System.Array]::Clear($data, 0, $data.Length)
    }
    if ([System.IO.File]::Exists($tmp)) {
        [System.IO.File]::Delete($tmp)
    }
}

$module.ExitJson()
