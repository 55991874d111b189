"""Alerts: rules as data, evaluated on every study written, alerts kept and answered, notifications sent.

Modules: :mod:`.quantities` (what a rule can watch), :mod:`.rules` (the table in
force, compiled), :mod:`.evaluate` (one rule against one study), :mod:`.records`
(raising, routing to the outbox, answering), :mod:`.notify` (e-mail and webhook
messages), :mod:`.outbox` (the sender: leases, retries with backoff, digests).
The table's schema is :mod:`schemas.alert_rules`; storage is
:mod:`service.storage.alerts`.
"""
