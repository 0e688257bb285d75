#!powershell

# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

# Read-only and thin by design: the action plugin (plugins/action/win_odj_join_info.py)
# interprets and judges. This module returns, as they are:
#  - Win32_ComputerSystem's Name, Domain, PartOfDomain and DomainRole;
#  - the last lines of %windir%\debug\NetSetup.log;
#  - the System events 4098 / 4099 of the last days;
#  - the registry keys the action plugin asks for (relative to HKLM\SYSTEM; a leading
#    'ControlSet*' stands for every ControlSetNNN key), values as type number and base64
#    data; the values named in the mask (the machine password) are only reported present.

$spec = @{
    options = @{
        domain = @{ type = 'str' }
        machine_name = @{ type = 'str' }
        event_lookback_days = @{ type = 'int'; default = 30 }
        _request = @{ type = 'dict'; default = @{} }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false
$request = $module.Params._request

$cs = Get-CimInstance -ClassName Win32_ComputerSystem -Property 'Name', 'Domain', 'PartOfDomain', 'DomainRole'
$module.Result.computer = @{
    name = [string]$cs.Name
    domain = [string]$cs.Domain
    part_of_domain = [bool]$cs.PartOfDomain
    domain_role = [int]$cs.DomainRole
}

$log = [System.IO.Path]::Combine($env:windir, 'debug', 'NetSetup.log')
$module.Result.netsetup_log_present = [System.IO.File]::Exists($log)
$module.Result.netsetup_tail = @()
if ($module.Result.netsetup_log_present) {
    $module.Result.netsetup_tail = @(Get-Content -LiteralPath $log -Tail ([int]$request['log_lines']))
}

$events = [System.Collections.Generic.List[Object]]@()
try {
    $found = Get-WinEvent -ErrorAction Stop -FilterHashtable @{
        LogName = 'System'
        Id = [int[]]@($request['event_ids'])
        StartTime = (Get-Date).AddDays(-$module.Params.event_lookback_days)
    }
    foreach ($event in $found) {
        $events.Add(@{ id = $event.Id; time = $event.TimeCreated.ToUniversalTime().ToString('o'); message = [string]$event.Message })
    }
}
catch {
    if ($_.FullyQualifiedErrorId -notmatch 'NoMatchingEventsFound') {
        $module.Warn("reading the System event log failed: $($_.Exception.Message)")
    }
}
$module.Result.events = $events.ToArray()

Function Get-KeyDump {
    param($Root, [string]$Path, [bool]$Recurse, [string[]]$Mask, $Keys, $Secrets)
    $key = $Root.OpenSubKey($Path, $false)
    if ($null -eq $key) {
        return
    }
    try {
        $values = [System.Collections.Generic.List[Object]]@()
        foreach ($name in $key.GetValueNames()) {
            $kind = [int]$key.GetValueKind($name)
            $value = $key.GetValue($name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
            if ($Mask -contains $name.ToLowerInvariant()) {
                $Secrets.Add(@{ key = $Path; name = $name; present = [bool]([string]$value) })
                $value = if ([string]$value) { '********' } else { '' }
            }
            # assigned directly, never through a pipeline, so that PowerShell does not unroll the byte arrays
            if ($kind -eq 3) {
                $bytes = [byte[]]$value
                if ($null -eq $bytes) {
                    $bytes = [byte[]]::new(0)
                }
            }
            elseif ($kind -eq 4) {
                $bytes = [System.BitConverter]::GetBytes([int]$value)
            }
            elseif ($kind -eq 11) {
                $bytes = [System.BitConverter]::GetBytes([long]$value)
            }
            elseif ($kind -eq 7) {
                $bytes = [System.Text.Encoding]::Unicode.GetBytes((@($value) -join "`0") + "`0`0")
            }
            else {
                $bytes = [System.Text.Encoding]::Unicode.GetBytes([string]$value + "`0")
            }
            $values.Add(@{ name = $name; type = [System.Math]::Max($kind, 0); data = [System.Convert]::ToBase64String($bytes) })
        }
        $subkeys = [string[]]$key.GetSubKeyNames()
        $Keys[$Path] = @{ values = $values.ToArray(); subkeys = $subkeys }
        if ($Recurse) {
            foreach ($sub in $subkeys) {
                Get-KeyDump -Root $Root -Path "$Path\$sub" -Recurse $true -Mask $Mask -Keys $Keys -Secrets $Secrets
            }
        }
    }
    finally {
        $key.Close()
    }
}

$system = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey('SYSTEM', $false)
try {
    $controlSets = @($system.GetSubKeyNames() | Where-Object { $_ -like 'ControlSet*' })
    $keys = @{}
    $secrets = [System.Collections.Generic.List[Object]]@()
    $mask = [string[]]@($request['mask'] | ForEach-Object { ([string]$_).ToLowerInvariant() })
    foreach ($item in @($request['registry_keys'])) {
        $path = [string]$item['path']
        $paths = @($path)
        if ($path.StartsWith('ControlSet*', [System.StringComparison]::OrdinalIgnoreCase)) {
            $paths = @($controlSets | ForEach-Object { $_ + $path.Substring('ControlSet*'.Length) })
        }
        foreach ($one in $paths) {
            Get-KeyDump -Root $system -Path $one -Recurse ([bool]$item['recurse']) -Mask $mask -Keys $keys -Secrets $secrets
        }
    }
}
finally {
    $system.Close()
}
$module.Result.registry = $keys
$module.Result.secrets = $secrets.ToArray()
$module.ExitJson()
