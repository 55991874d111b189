"""DoseLedger: a radiation-dose monitoring service."""
