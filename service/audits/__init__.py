"""Dose audits: aggregation pipelines defined once as data (see :mod:`service.audits.pipeline`)."""
