# Read-only: report the domain join state of this machine as one JSON object.
# Sent by the target role through ansible.builtin.raw; it changes nothing.
$ErrorActionPreference = 'Stop'
$lookbackDays = [int]'__LOOKBACK_DAYS__'
$cs = Get-CimInstance -ClassName Win32_ComputerSystem
$log = Join-Path $env:windir 'debug\NetSetup.log'
$netsetup = @()
if (Test-Path -LiteralPath $log) {
    $netsetup = @(Get-Content -LiteralPath $log -Tail 400 | Where-Object {
        $_ -match 'NetpJoinDomain|NetpProvision|NetpRequestOfflineDomainJoin|ODJ|NetpDoDomainJoin|status of|Offline|0x'
    } | Select-Object -Last 40)
}
$events = @()
try {
    $events = @(Get-WinEvent -FilterHashtable @{
        LogName = 'System'; Id = 4098, 4099; StartTime = (Get-Date).AddDays(-$lookbackDays)
    } -ErrorAction Stop | Sort-Object TimeCreated -Descending | Select-Object -First 10 | ForEach-Object {
        @{ id = $_.Id; time = $_.TimeCreated.ToUniversalTime().ToString('o'); message = [string]$_.Message }
    })
} catch [System.Exception] {
    if ($_.FullyQualifiedErrorId -notmatch 'NoMatchingEventsFound') { throw }
}
$pending = Test-Path -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Lsa\OfflineJoin'
[ordered]@{
    computer_name = $env:COMPUTERNAME
    part_of_domain = [bool]$cs.PartOfDomain
    domain = [string]$cs.Domain
    domain_role = [int]$cs.DomainRole
    offline_join_pending = [bool]$pending
    netsetup_log_present = [bool](Test-Path -LiteralPath $log)
    netsetup_lines = $netsetup
    events = $events
} | ConvertTo-Json -Depth 4 -Compress
