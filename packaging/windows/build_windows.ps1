# Build MTO Studio for Windows (x64): the PyInstaller one-folder bundle, its self-test, and the Inno Setup installer
# dist\mto-studio-<version>-windows-x64-setup.exe. TESTED BY RECIPE ONLY (written and reviewed on Linux; no Windows
# machine was available): see packaging\README.md.
# Needs: Python 3.11 x64 (the py launcher), Inno Setup 6 (iscc.exe on PATH or in its default folder), ~6 GB disk.
# Run from anywhere:  powershell -ExecutionPolicy Bypass -File packaging\windows\build_windows.ps1
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")
$version = (Select-String -Path mto_studio\__init__.py -Pattern '__version__ = "(.+)"').Matches[0].Groups[1].Value
$venv = "build\bundle-venv"

# 1. A fresh build venv with the project installed non-editably (PyPI's Windows torch wheel is the CPU build).
if (Test-Path $venv) { Remove-Item -Recurse -Force $venv }
if (Test-Path build\lib) { Remove-Item -Recurse -Force build\lib }
py -3.11 -m venv $venv
& "$venv\Scripts\python.exe" -m pip install --upgrade pip
& "$venv\Scripts\python.exe" -m pip install -c constraints.txt ".[package]"
if ($LASTEXITCODE) { throw "pip install failed" }

# 2. Icons (PNG + ICO), then the bundle: dist\mto-studio\{mto-studio.exe, mto-studio-gui.exe, _internal\}
$env:QT_QPA_PLATFORM = "offscreen"
& "$venv\Scripts\python.exe" packaging\render_icon.py build\icons
& "$venv\Scripts\pyinstaller.exe" --noconfirm --clean --distpath dist --workpath build\pyinstaller `
    packaging\pyinstaller\mto_studio.spec
if ($LASTEXITCODE) { throw "PyInstaller failed" }

# 3. The self-test from the bundle, with the build venv out of the way.
$savedPath = $env:PATH
$env:PATH = "$env:SystemRoot\System32;$env:SystemRoot"
& dist\mto-studio\mto-studio.exe --self-test
$selfTest = $LASTEXITCODE
$env:PATH = $savedPath
Remove-Item Env:QT_QPA_PLATFORM
if ($selfTest) { throw "the bundle's self-test failed" }

# 4. The installer (per-user by default, no admin rights needed).
$iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source
if (-not $iscc) { $iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
& $iscc "/DAppVersion=$version" packaging\windows\mto-studio.iss
if ($LASTEXITCODE) { throw "Inno Setup failed" }
Write-Host "built dist\mto-studio-$version-windows-x64-setup.exe"
