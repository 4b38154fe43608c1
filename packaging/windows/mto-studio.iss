; Inno Setup 6 script for MTO Studio (Windows x64). TESTED BY RECIPE ONLY: see packaging\README.md.
; Packs the PyInstaller one-folder bundle dist\mto-studio (built by packaging\windows\build_windows.ps1, which then
; runs:  iscc /DAppVersion=<version> packaging\windows\mto-studio.iss). Paths are relative to this file's folder.
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{5E0B7C2A-8F1D-4C61-9A3E-2D7F4B6C9E10}
AppName=MTO Studio
AppVersion={#AppVersion}
AppVerName=MTO Studio {#AppVersion}
AppPublisher=MTO Studio
DefaultDirName={autopf}\MTO Studio
DefaultGroupName=MTO Studio
DisableProgramGroupPage=yes
; per-user install by default (no admin rights); the dialog offers all users
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=mto-studio-{#AppVersion}-windows-x64-setup
SetupIconFile=..\..\build\icons\mto-studio.ico
UninstallDisplayIcon={app}\mto-studio-gui.exe
; torch is ~1 GB of DLLs: lzma2 solid compression takes a few minutes and gives a ~300 MB installer
Compression=lzma2/max
SolidCompression=yes
LZMAUseSeparateProcess=yes
WizardStyle=modern
ChangesEnvironment=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add the mto-studio command line to your PATH"; Flags: unchecked

[Files]
Source: "..\..\dist\mto-studio\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; an upgrade must not keep modules of the previous version next to the new ones
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{group}\MTO Studio"; Filename: "{app}\mto-studio-gui.exe"
Name: "{group}\MTO Studio self-test"; Filename: "{cmd}"; Parameters: "/k ""{app}\mto-studio.exe"" --self-test"; IconFilename: "{app}\mto-studio-gui.exe"
Name: "{group}\{cm:UninstallProgram,MTO Studio}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\MTO Studio"; Filename: "{app}\mto-studio-gui.exe"; Tasks: desktopicon

[Registry]
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\mto-studio-gui.exe"; Description: "{cm:LaunchProgram,MTO Studio}"; Flags: nowait postinstall skipifsilent

[Code]
function NeedsAddPath(Dir: string): Boolean;
var
  Paths: string;
begin
  if not RegQueryStringValue(HKCU, 'Environment', 'Path', Paths) then
    Paths := '';
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Paths) + ';') = 0;
end;
