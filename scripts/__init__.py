"""The ``doseledger`` command line and mongosh audit scripts."""
