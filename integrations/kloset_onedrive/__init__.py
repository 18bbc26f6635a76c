"""OneDrive and SharePoint (Microsoft Graph): back up a drive, restore into it, keep a repository.

Connector classes are found by convention (kloset_onedrive.<kind>) and imported, with msal
and requests, only when Init arrives (P17).
"""

NAME = "onedrive"
DISPLAY_NAME = "OneDrive / SharePoint"
PROTOCOLS = ("onedrive",)
