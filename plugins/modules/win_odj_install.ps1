#!powershell

# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell Ansible.ModuleUtils.AddType

# Thin by design: the action plugin (plugins/action/win_odj_install.py) decodes
# the package, reads the dump this module returns and decides. This module only
# (query) dumps registry keys of the target's SYSTEM hive, with the machine
# password replaced by a keyed HMAC, or (install) calls
# NetRequestProvisioningPackageInstall with the raw package bytes.

$spec = @{
    options = @{
        src = @{ type = 'path' }
        content = @{ type = 'str'; no_log = $true }
        windows_path = @{ type = 'path' }
        online = @{ type = 'bool'; default = $false }
        force = @{ type = 'bool'; default = $false }
        _phase = @{ type = 'str'; choices = 'query', 'install'; default = 'query' }
        _request = @{ type = 'dict'; default = @{} }
        _hmac_key = @{ type = 'str'; no_log = $true }
        _package = @{ type = 'str'; no_log = $true }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$csharp = @'
using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace WinImage.Provisioning.OdjInstall
{
    public static class NativeMethods
    {
        [DllImport("netapi32.dll", CharSet = CharSet.Unicode)]
        public static extern int NetRequestProvisioningPackageInstall(
            byte[] pPackageBinData,
            int dwPackageBinDataSize,
            int dwProvisionOptions,
            string lpWindowsPath,
            IntPtr pvReserved);

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode)]
        public static extern int RegLoadAppKeyW(string lpFile, out IntPtr phkResult, int samDesired, int dwOptions, int reserved);

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode)]
        public static extern int RegOpenKeyExW(IntPtr hKey, string lpSubKey, int ulOptions, int samDesired, out IntPtr phkResult);

        [DllImport("advapi32.dll")]
        public static extern int RegCloseKey(IntPtr hKey);

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode)]
        public static extern int RegQueryInfoKeyW(IntPtr hKey, IntPtr lpClass, IntPtr lpcchClass, IntPtr lpReserved,
            out int lpcSubKeys, out int lpcbMaxSubKeyLen, IntPtr lpcbMaxClassLen, out int lpcValues,
            out int lpcbMaxValueNameLen, out int lpcbMaxValueLen, IntPtr lpcbSecurityDescriptor, IntPtr lpftLastWriteTime);

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode)]
        public static extern int RegEnumKeyExW(IntPtr hKey, int dwIndex, StringBuilder lpName, ref int lpcchName,
            IntPtr lpReserved, IntPtr lpClass, IntPtr lpcchClass, IntPtr lpftLastWriteTime);

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode)]
        public static extern int RegEnumValueW(IntPtr hKey, int dwIndex, StringBuilder lpValueName, ref int lpcchValueName,
            IntPtr lpReserved, out int lpType, byte[] lpData, ref int lpcbData);
    }

    public static class Installer
    {
        // Returns the NET_API_STATUS as is; naming it is the controller's job.
        public static int Install(byte[] package, int options, string windowsPath)
        {
            if (package == null || package.Length == 0)
                throw new ArgumentException("the package is empty");
            return NativeMethods.NetRequestProvisioningPackageInstall(package, package.Length, options, windowsPath, IntPtr.Zero);
        }
    }

    public sealed class HiveDump : IDisposable
    {
        private const int KEY_READ = 0x20019;
        private const int ERROR_SUCCESS = 0;
        private const int ERROR_FILE_NOT_FOUND = 2;
        private const int ERROR_NO_MORE_ITEMS = 259;
        private const int REG_PROCESS_APPKEY = 0x1;
        private const int REG_APP_HIVE_OPEN_READ_ONLY = 0x2000;  // winnt.h: REG_OPEN_READ_ONLY (0x00002000L)

        // The dump only reads: the image's hive is loaded read-only, so that looking (the query phase,
        // check mode included) can never write a dirty hive back or flush its logs.
        public const int AppKeyOptions = REG_PROCESS_APPKEY | REG_APP_HIVE_OPEN_READ_ONLY;
        private static readonly IntPtr HKEY_LOCAL_MACHINE = new IntPtr(unchecked((int)0x80000002));

        private IntPtr root = IntPtr.Zero;

        // hivePath null: the running system's HKLM\SYSTEM; else an offline SYSTEM hive file,
        // loaded privately and read-only (RegLoadAppKey) and unloaded again when disposed.
        public HiveDump(string hivePath)
        {
            int rc;
            if (hivePath == null)
                rc = NativeMethods.RegOpenKeyExW(HKEY_LOCAL_MACHINE, "SYSTEM", 0, KEY_READ, out root);
            else
                rc = NativeMethods.RegLoadAppKeyW(hivePath, out root, KEY_READ, AppKeyOptions, 0);
            if (rc != ERROR_SUCCESS)
                throw new Win32Exception(rc, String.Format("cannot open the SYSTEM hive {0}: {1} (Win32 error {2})",
                    hivePath ?? "HKLM\\SYSTEM", new Win32Exception(rc).Message, rc));
        }

        public void Dispose()
        {
            if (root != IntPtr.Zero)
            {
                NativeMethods.RegCloseKey(root);
                root = IntPtr.Zero;
            }
        }

        private IntPtr Open(string path)
        {
            if (String.IsNullOrEmpty(path))
                return IntPtr.Zero;
            IntPtr key;
            int rc = NativeMethods.RegOpenKeyExW(root, path, 0, KEY_READ, out key);
            if (rc == ERROR_FILE_NOT_FOUND)
                return IntPtr.Zero;
            if (rc != ERROR_SUCCESS)
                throw new Win32Exception(rc, String.Format("cannot open key {0}: Win32 error {1}", path, rc));
            return key;
        }

        private static List<string> Subkeys(IntPtr key)
        {
            int subkeys, maxSubkey, values, maxName, maxData;
            int rc = NativeMethods.RegQueryInfoKeyW(key, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, out subkeys, out maxSubkey,
                IntPtr.Zero, out values, out maxName, out maxData, IntPtr.Zero, IntPtr.Zero);
            if (rc != ERROR_SUCCESS)
                throw new Win32Exception(rc);
            List<string> names = new List<string>();
            for (int i = 0; ; i++)
            {
                StringBuilder name = new StringBuilder(maxSubkey + 2);
                int length = name.Capacity;
                rc = NativeMethods.RegEnumKeyExW(key, i, name, ref length, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero);
                if (rc == ERROR_NO_MORE_ITEMS)
                    break;
                if (rc != ERROR_SUCCESS)
                    throw new Win32Exception(rc);
                names.Add(name.ToString(0, length));
            }
            return names;
        }

        public static string Hmac(byte[] hmacKey, string text)
        {
            using (HMACSHA256 mac = new HMACSHA256(hmacKey))
            {
                byte[] digest = mac.ComputeHash(Encoding.Unicode.GetBytes(text));
                StringBuilder hex = new StringBuilder(digest.Length * 2);
                foreach (byte b in digest)
                    hex.Append(b.ToString("x2"));
                return hex.ToString();
            }
        }

        private void DumpKey(string path, bool recurse, ICollection<string> mask, byte[] hmacKey,
            Dictionary<string, object> keys, List<object> secrets)
        {
            IntPtr key = Open(path);
            if (key == IntPtr.Zero)
                return;
            try
            {
                int subkeyCount, maxSubkey, valueCount, maxName, maxData;
                int rc = NativeMethods.RegQueryInfoKeyW(key, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, out subkeyCount,
                    out maxSubkey, IntPtr.Zero, out valueCount, out maxName, out maxData, IntPtr.Zero, IntPtr.Zero);
                if (rc != ERROR_SUCCESS)
                    throw new Win32Exception(rc);
                List<object> values = new List<object>();
                for (int i = 0; ; i++)
                {
                    StringBuilder name = new StringBuilder(maxName + 2);
                    int nameLength = name.Capacity;
                    byte[] data = new byte[maxData + 2];
                    int dataLength = data.Length;
                    int type;
                    rc = NativeMethods.RegEnumValueW(key, i, name, ref nameLength, IntPtr.Zero, out type, data, ref dataLength);
                    if (rc == ERROR_NO_MORE_ITEMS)
                        break;
                    if (rc != ERROR_SUCCESS)
                        throw new Win32Exception(rc);
                    string valueName = name.ToString(0, nameLength);
                    byte[] bytes = new byte[dataLength];
                    Array.Copy(data, bytes, dataLength);
                    Array.Clear(data, 0, data.Length);
                    if (mask.Contains(valueName.ToLowerInvariant()))
                    {
                        string text = Encoding.Unicode.GetString(bytes);
                        int nul = text.IndexOf('\0');
                        if (nul >= 0)
                            text = text.Substring(0, nul);
                        Dictionary<string, object> secret = new Dictionary<string, object>();
                        secret["key"] = path;
                        secret["name"] = valueName;
                        secret["present"] = text.Length > 0;
                        secret["hmac"] = Hmac(hmacKey ?? new byte[32], text);
                        secrets.Add(secret);
                        Array.Clear(bytes, 0, bytes.Length);
                        bytes = text.Length > 0 ? Encoding.Unicode.GetBytes("********\0") : bytes;
                    }
                    Dictionary<string, object> value = new Dictionary<string, object>();
                    value["name"] = valueName;
                    value["type"] = type;
                    value["data"] = Convert.ToBase64String(bytes);
                    values.Add(value);
                }
                List<string> subkeys = Subkeys(key);
                Dictionary<string, object> entry = new Dictionary<string, object>();
                entry["values"] = values;
                entry["subkeys"] = subkeys;
                keys[path] = entry;
                if (recurse)
                {
                    foreach (string sub in subkeys)
                        DumpKey(path + "\\" + sub, true, mask, hmacKey, keys, secrets);
                }
            }
            finally
            {
                NativeMethods.RegCloseKey(key);
            }
        }

        // paths are relative to the SYSTEM root; a leading "ControlSet*" stands for every ControlSetNNN key.
        public Dictionary<string, object> Dump(string[] paths, bool[] recurse, string[] maskNames, byte[] hmacKey)
        {
            HashSet<string> mask = new HashSet<string>();
            foreach (string m in maskNames)
                mask.Add(m.ToLowerInvariant());
            List<string> controlSets = new List<string>();
            foreach (string name in Subkeys(root))
            {
                if (name.StartsWith("ControlSet", StringComparison.OrdinalIgnoreCase))
                    controlSets.Add(name);
            }
            Dictionary<string, object> keys = new Dictionary<string, object>();
            List<object> secrets = new List<object>();
            for (int i = 0; i < paths.Length; i++)
            {
                string path = paths[i];
                if (path.StartsWith("ControlSet*", StringComparison.OrdinalIgnoreCase))
                {
                    foreach (string cs in controlSets)
                        DumpKey(cs + path.Substring("ControlSet*".Length), recurse[i], mask, hmacKey, keys, secrets);
                }
                else
                {
                    DumpKey(path, recurse[i], mask, hmacKey, keys, secrets);
                }
            }
            Dictionary<string, object> result = new Dictionary<string, object>();
            result["keys"] = keys;
            result["secrets"] = secrets;
            return result;
        }
    }
}
'@

Add-CSharpType -AnsibleModule $module -References $csharp

$module.Result.changed = $false
$module.Result.system_root = $env:SystemRoot

if ($module.Params._phase -eq 'query') {
    $hivePath = $null
    if (-not $module.Params.online) {
        $hivePath = [System.IO.Path]::Combine($module.Params.windows_path, 'System32', 'config', 'SYSTEM')
        $module.Result.hive_path = $hivePath
        if (-not [System.IO.File]::Exists($hivePath)) {
            $module.Result.hive_exists = $false
            $module.ExitJson()
        }
    }
    else {
        $module.Result.hive_path = 'HKLM\SYSTEM'
        $computer = Get-CimInstance -ClassName Win32_ComputerSystem -Property 'Name', 'Domain', 'PartOfDomain'
        $module.Result.computer = @{
            name = $computer.Name
            domain = $computer.Domain
            part_of_domain = [bool]$computer.PartOfDomain
        }
    }
    $module.Result.hive_exists = $true

    $request = $module.Params._request
    $paths = [string[]]@($request['registry_keys'] | ForEach-Object { $_['path'] })
    $recurse = [bool[]]@($request['registry_keys'] | ForEach-Object { [bool]$_['recurse'] })
    $hmacKey = [byte[]]@()
    if ($module.Params._hmac_key) {
        $hmacKey = [System.Convert]::FromBase64String($module.Params._hmac_key)
    }
    try {
        $dump = New-Object -TypeName WinImage.Provisioning.OdjInstall.HiveDump -ArgumentList @(, $hivePath)
        try {
            $state = $dump.Dump($paths, $recurse, [string[]]@($request['mask']), $hmacKey)
        }
        finally {
            $dump.Dispose()
        }
    }
    catch {
        $module.FailJson("reading the SYSTEM hive $($module.Result.hive_path) failed: $($_.Exception.Message)", $_)
    }
    $module.Result.registry = $state['keys']
    $module.Result.secrets = $state['secrets']
    $module.ExitJson()
}

# install
$request = $module.Params._request
if (-not $module.Params._package -or -not $request['windows_path']) {
    $module.FailJson('the install phase needs _package and _request.windows_path (set by the action plugin)')
}
if ($module.CheckMode) {
    $module.ExitJson()
}
$package = [System.Convert]::FromBase64String($module.Params._package)
try {
    $status = [WinImage.Provisioning.OdjInstall.Installer]::Install($package, [int]$request['options'], [string]$request['windows_path'])
}
finally {
    [System.Array]::Clear($package, 0, $package.Length)
}
$module.Result.status = $status
$module.Result.changed = $true
$module.ExitJson()
