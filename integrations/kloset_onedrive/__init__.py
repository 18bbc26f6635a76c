"""OneDrive and SharePoint (Microsoft Graph): back up a drive, restore into it, keep a repository.

Connector classes are named as "module:Class" strings so that msal and requests are imported
only when Init arrives (P17).
"""

NAME = "onedrive"
DISPLAY_NAME = "OneDrive / SharePoint"
PROTOCOLS = ("onedrive",)
CONNECTORS = {
    "importer": "kloset_onedrive.importer:OneDriveImporter",
    "exporter": "kloset_onedrive.exporter:OneDriveExporter",
    "storage": "kloset_onedrive.storage:OneDriveStorage",
}
