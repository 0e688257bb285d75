#!powershell

# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

# Thin by design: the action plugin (plugins/action/win_complus_import.py) and
# plugins/module_utils/complus/catalog.py decide everything. This module
#  - query: reads the package (QueryApplicationFile2) and the catalog
#    (partitions, applications) and returns them as they are;
#  - apply: checks the preconditions of the plan it is given (package file,
#    destination folder, every application to remove) before changing
#    anything, then carries out its steps (create_partition, select_partition,
#    remove, install) and reports what is installed afterwards.
# Numbers (flags, HRESULTs) are returned raw; the controller names them.
# COM+ catalog changes are not transactional: a step that fails after a
# removal leaves the application removed (the controller says so).

$spec = @{
    options = @{
        src = @{ type = 'path' }
        path = @{ type = 'str' }
        destination = @{ type = 'str' }
        partition = @{ type = 'str' }
        with_users = @{ type = 'bool'; default = $false }
        overwrite_files = @{ type = 'bool'; default = $false }
        run_as_user = @{ type = 'str' }
        run_as_password = @{ type = 'str'; no_log = $true }
        remote_server_name = @{ type = 'str' }
        state = @{ type = 'str'; choices = 'present', 'absent'; default = 'present' }
        force = @{ type = 'bool'; default = $false }
        _phase = @{ type = 'str'; choices = 'query', 'apply'; default = 'query' }
        _request = @{ type = 'dict'; default = @{} }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false

Function Get-CatalogValue {
    param($Object, [string]$Name)
    try {
        $Object.Value($Name)
    }
    catch {
        $null
    }
}

Function Get-HResult {
    param($ErrorRecord)
    $exception = $ErrorRecord.Exception
    while ($null -ne $exception.InnerException -and $exception -isnot [System.Runtime.InteropServices.COMException]) {
        $exception = $exception.InnerException
    }
    [int]$exception.HResult
}

Function Get-ErrorInfo {
    param($Catalog)
    $entries = [System.Collections.Generic.List[Object]]@()
    try {
        $errors = $Catalog.GetCollection('ErrorInfo')
        $errors.Populate()
        for ($i = 0; $i -lt $errors.Count; $i++) {
            $item = $errors.Item($i)
            $entries.Add(@{
                    name = Get-CatalogValue -Object $item -Name 'Name'
                    error_code = Get-CatalogValue -Object $item -Name 'ErrorCode'
                    major_ref = Get-CatalogValue -Object $item -Name 'MajorRef'
                    minor_ref = Get-CatalogValue -Object $item -Name 'MinorRef'
                })
        }
    }
    catch {
        $entries.Add(@{ name = 'ErrorInfo'; error_code = (Get-HResult -ErrorRecord $_); major_ref = $null; minor_ref = $null })
    }
    , $entries.ToArray()
}

Function Get-ApplicationCollection {
    # [partition id, collection] pairs: per partition when the catalog has partitions, else the root collection
    param($Catalog)
    $pairs = [System.Collections.Generic.List[Object]]@()
    try {
        $partitions = $Catalog.GetCollection('Partitions')
        $partitions.Populate()
        for ($i = 0; $i -lt $partitions.Count; $i++) {
            $partition = $partitions.Item($i)
            $apps = $partitions.GetCollection('Applications', $partition.Key)
            $apps.Populate()
            $pairs.Add(@([string]$partition.Key, $apps))
        }
    }
    catch {
        $pairs.Clear()
    }
    if ($pairs.Count -eq 0) {
        # no partitions: every application is in the global partition, which the controller names
        $apps = $Catalog.GetCollection('Applications')
        $apps.Populate()
        $pairs.Add(@('', $apps))
    }
    , $pairs.ToArray()
}

Function Get-CatalogState {
    param($Catalog)
    $partitionList = [System.Collections.Generic.List[Object]]@()
    $partitionsEnabled = $false
    try {
        $local = $Catalog.GetCollection('LocalComputer')
        $local.Populate()
        $partitionsEnabled = [bool](Get-CatalogValue -Object $local.Item(0) -Name 'PartitionsEnabled')
    }
    catch {
        $partitionsEnabled = $false
    }
    try {
        $partitions = $Catalog.GetCollection('Partitions')
        $partitions.Populate()
        for ($i = 0; $i -lt $partitions.Count; $i++) {
            $partition = $partitions.Item($i)
            $partitionList.Add(@{
                    id = [string]$partition.Key
                    name = [string]$partition.Name
                    changeable = [bool](Get-CatalogValue -Object $partition -Name 'Changeable')
                    deleteable = [bool](Get-CatalogValue -Object $partition -Name 'Deleteable')
                })
        }
    }
    catch {
        $partitionList.Clear()
    }
    $appList = [System.Collections.Generic.List[Object]]@()
    foreach ($pair in (Get-ApplicationCollection -Catalog $Catalog)) {
        $apps = $pair[1]
        for ($i = 0; $i -lt $apps.Count; $i++) {
            $app = $apps.Item($i)
            $partitionId = Get-CatalogValue -Object $app -Name 'AppPartitionID'
            if (-not $partitionId) {
                $partitionId = $pair[0]
            }
            $appList.Add(@{
                    id = [string]$app.Key
                    name = [string]$app.Name
                    partition_id = [string]$partitionId
                    is_proxy = [bool](Get-CatalogValue -Object $app -Name 'ApplicationProxy')
                    server_name = Get-CatalogValue -Object $app -Name 'ApplicationProxyServerName'
                    changeable = [bool](Get-CatalogValue -Object $app -Name 'Changeable')
                    deleteable = [bool](Get-CatalogValue -Object $app -Name 'Deleteable')
                    identity = Get-CatalogValue -Object $app -Name 'Identity'
                    directory = Get-CatalogValue -Object $app -Name 'ApplicationDirectory'
                })
        }
    }
    @{
        partitions = $partitionList.ToArray()
        partitions_enabled = $partitionsEnabled
        applications = $appList.ToArray()
    }
}

Function Find-Application {
    param($Catalog, [string]$Id)
    foreach ($pair in (Get-ApplicationCollection -Catalog $Catalog)) {
        $apps = $pair[1]
        for ($i = 0; $i -lt $apps.Count; $i++) {
            if ([string]$apps.Item($i).Key -eq $Id -or [string]$apps.Item($i).Key -eq "{$Id}") {
                return , @($apps, $i)
            }
        }
    }
    $null
}

Function Get-ApplicationReport {
    # the applications named by ID (or, for package applications that record no ID, by name)
    param($Catalog, [string[]]$Ids, [string[]]$Names, [string]$PartitionId)
    $report = [System.Collections.Generic.List[Object]]@()
    $modules = @{}
    $components = [System.Collections.Generic.List[Object]]@()
    foreach ($pair in (Get-ApplicationCollection -Catalog $Catalog)) {
        $apps = $pair[1]
        for ($i = 0; $i -lt $apps.Count; $i++) {
            $app = $apps.Item($i)
            if ($Ids -notcontains ([string]$app.Key).Trim('{}').ToUpperInvariant() -and $Names -notcontains [string]$app.Name) {
                continue
            }
            $appPartition = Get-CatalogValue -Object $app -Name 'AppPartitionID'
            if (-not $appPartition) {
                $appPartition = $pair[0]
            }
            if ($PartitionId -and $appPartition -and ([string]$appPartition).Trim('{}') -ne $PartitionId.Trim('{}')) {
                continue
            }
            $report.Add(@{
                    id = [string]$app.Key
                    name = [string]$app.Name
                    partition_id = [string]$appPartition
                    is_proxy = [bool](Get-CatalogValue -Object $app -Name 'ApplicationProxy')
                    server_name = Get-CatalogValue -Object $app -Name 'ApplicationProxyServerName'
                    identity = Get-CatalogValue -Object $app -Name 'Identity'
                    directory = Get-CatalogValue -Object $app -Name 'ApplicationDirectory'
                })
            $comps = $apps.GetCollection('Components', $app.Key)
            $comps.Populate()
            $dlls = [System.Collections.Generic.List[String]]@()
            $byClsid = @{}
            for ($j = 0; $j -lt $comps.Count; $j++) {
                $comp = $comps.Item($j)
                $dll = [string](Get-CatalogValue -Object $comp -Name 'DLL')
                if ($dll -and -not $dlls.Contains($dll)) {
                    $dlls.Add($dll)
                }
                $entry = @{
                    clsid = [string]$comp.Key
                    name = [string](Get-CatalogValue -Object $comp -Name 'ProgID')
                    module = $dll
                    status = $null
                    # the catalog reports a component's HRESULT only through ErrorInfo; the controller matches it
                    hresult = $null
                }
                if (-not $entry.name) {
                    $entry.name = [string]$comp.Name
                }
                $byClsid[([string]$comp.Key).ToUpperInvariant()] = $entry
                $components.Add($entry)
            }
            if ($dlls.Count -gt 0) {
                $clsids = $null
                $classNames = $null
                $fileFlags = $null
                $componentFlags = $null
                $fileNames = [object[]]$dlls.ToArray()
                try {
                    $Catalog.GetMultipleComponentsInfo([string]$app.Key, [ref]$fileNames, [ref]$clsids, [ref]$classNames,
                        [ref]$fileFlags, [ref]$componentFlags)
                    for ($k = 0; $k -lt @($clsids).Count; $k++) {
                        $key = ([string]@($clsids)[$k]).ToUpperInvariant()
                        if ($byClsid.ContainsKey($key)) {
                            $byClsid[$key].status = [int]@($componentFlags)[$k]
                            $modules[$byClsid[$key].module] = [int]@($fileFlags)[$k]
                        }
                    }
                }
                catch {
                    $module.Warn("GetMultipleComponentsInfo failed for $($app.Name): $($_.Exception.Message); status flags are not reported")
                }
                foreach ($dll in $dlls) {
                    if (-not $modules.ContainsKey($dll)) {
                        $modules[$dll] = $null
                    }
                }
            }
        }
    }
    $moduleList = [System.Collections.Generic.List[Object]]@()
    foreach ($name in $modules.Keys) {
        $moduleList.Add(@{ name = $name; status = $modules[$name] })
    }
    @{
        applications = $report.ToArray()
        modules = $moduleList.ToArray()
        components = $components.ToArray()
    }
}

try {
    $catalog = New-Object -ComObject COMAdmin.COMAdminCatalog
}
catch {
    $module.Result.hresult = Get-HResult -ErrorRecord $_
    $module.FailJson("cannot open the COM+ catalog (COMAdmin.COMAdminCatalog): $($_.Exception.Message)", $_)
}

$request = $module.Params._request
$file = [string]$request['file']
if ($module.Params._phase -eq 'query') {
    $module.Result.package_exists = $false
    $package = [System.Collections.Generic.List[Object]]@()
    if ($file -and (Test-Path -LiteralPath $file -PathType Leaf)) {
        $module.Result.package_exists = $true
        $module.Result.package_size = (Get-Item -LiteralPath $file).Length
        try {
            $files = $catalog.QueryApplicationFile2($file)
            $files.Populate()
            for ($i = 0; $i -lt $files.Count; $i++) {
                $item = $files.Item($i)
                $package.Add(@{
                        id = Get-CatalogValue -Object $item -Name 'ApplicationID'
                        name = Get-CatalogValue -Object $item -Name 'ApplicationName'
                        description = Get-CatalogValue -Object $item -Name 'Description'
                        file_name = Get-CatalogValue -Object $item -Name 'FileName'
                        has_users = [bool](Get-CatalogValue -Object $item -Name 'HasUsers')
                        is_proxy = [bool](Get-CatalogValue -Object $item -Name 'IsProxy')
                        is_service = [bool](Get-CatalogValue -Object $item -Name 'IsService')
                        partition_id = Get-CatalogValue -Object $item -Name 'PartitionID'
                        partition_name = Get-CatalogValue -Object $item -Name 'PartitionName'
                    })
            }
        }
        catch {
            $module.Result.query_hresult = Get-HResult -ErrorRecord $_
            $module.Result.query_error = $_.Exception.Message
        }
    }
    $module.Result.package = @{ applications = $package.ToArray() }
    $module.Result.catalog = Get-CatalogState -Catalog $catalog
    $module.ExitJson()
}

# apply: carry out the plan, step by step; stop at the first failure and report it raw
if ($module.CheckMode) {
    $module.ExitJson()
}
$module.Result.completed_steps = [System.Collections.Generic.List[Object]]@()
$steps = @($request['steps'])
$installPartition = $null

# preconditions, all before the first change
$problem = $null
if (-not ($file -and (Test-Path -LiteralPath $file -PathType Leaf))) {
    $problem = "the package $file does not exist"
}
elseif ($module.Params.destination -and -not (Test-Path -LiteralPath $module.Params.destination -PathType Container)) {
    $problem = "the destination folder $($module.Params.destination) does not exist"
}
else {
    foreach ($step in $steps) {
        if ($step['action'] -eq 'remove' -and $null -eq (Find-Application -Catalog $catalog -Id $step['id'].Trim('{}'))) {
            $problem = "the application $($step['id']) to remove was not found"
            break
        }
    }
}
if ($null -ne $problem) {
    $module.Result.step_error = @{
        action = 'precondition'
        hresult = $null
        message = $problem
        error_info = @()
    }
    $module.ExitJson()
}

foreach ($step in $steps) {
    $module.Result.failed_step = $step['action']
    try {
        if ($step['action'] -eq 'create_partition') {
            $partitions = $catalog.GetCollection('Partitions')
            $partitions.Populate()
            $new = $partitions.Add()
            $new.Value('ID') = '{' + $step['id'].Trim('{}') + '}'
            $new.Value('Name') = $step['name']
            [void]$partitions.SaveChanges()
        }
        elseif ($step['action'] -eq 'select_partition') {
            # ICOMAdminCatalog2.CurrentPartition is a write-only property: assigned, not called
            $catalog.CurrentPartition = '{' + $step['id'].Trim('{}') + '}'
        }
        elseif ($step['action'] -eq 'remove') {
            $found = Find-Application -Catalog $catalog -Id $step['id'].Trim('{}')
            if ($null -eq $found) {
                throw [System.Runtime.InteropServices.COMException]::new("application $($step['id']) was not found", 0x80110809)
            }
            $apps = $found[0]
            $index = $found[1]
            $catalog.ShutdownApplication('{' + $step['id'].Trim('{}') + '}')
            if ($step['make_deletable']) {
                $apps.Item($index).Value('Changeable') = $true
                $apps.Item($index).Value('Deleteable') = $true
                [void]$apps.SaveChanges()
            }
            $apps.Remove($index)
            [void]$apps.SaveChanges()
        }
        else {
            $installPartition = $step['partition_id']
            $destination = ''
            if ($module.Params.destination) {
                $destination = $module.Params.destination
            }
            $user = ''
            $password = ''
            if ($module.Params.run_as_user) {
                $user = $module.Params.run_as_user
                $password = [string]$module.Params.run_as_password
            }
            $rsn = ''
            if ($module.Params.remote_server_name) {
                $rsn = $module.Params.remote_server_name
            }
            if ($step['method'] -eq 'InstallPartition') {
                $catalog.InstallPartition($file, $destination, [int]$step['options'], $user, $password, $rsn)
            }
            else {
                $catalog.InstallApplication($file, $destination, [int]$step['options'], $user, $password, $rsn)
            }
        }
        $module.Result.changed = $true
        $module.Result.completed_steps.Add($step['action'])
    }
    catch {
        $module.Result.step_error = @{
            action = $step['action']
            hresult = Get-HResult -ErrorRecord $_
            message = $_.Exception.Message
            error_info = Get-ErrorInfo -Catalog $catalog
        }
        break
    }
}
if (-not $module.Result.ContainsKey('step_error')) {
    [void]$module.Result.Remove('failed_step')
}

$ids = [string[]]@($request['app_ids'])
$names = [string[]]@($request['app_names'])
if ($module.Params.state -eq 'present' -and ($ids.Count + $names.Count) -gt 0) {
    try {
        $fresh = New-Object -ComObject COMAdmin.COMAdminCatalog
        $report = Get-ApplicationReport -Catalog $fresh -Ids $ids -Names $names -PartitionId $installPartition
        $module.Result.applications = $report.applications
        $module.Result.modules = $report.modules
        $module.Result.components = $report.components
    }
    catch {
        $module.Warn("reading the installed applications back failed: $($_.Exception.Message)")
    }
}
$module.ExitJson()
