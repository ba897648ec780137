"""Diagnosis of Certificates: the issuance chain read from the API and its root cause.

Shared by ``certsmith status certificate`` / ``inspect secret`` and the web view. Reads through
:mod:`certsmith.client` and decodes with :mod:`certsmith.pki`; never imports the controllers or
the API server. Start with :func:`certsmith.status.gather.diagnose` and
:class:`certsmith.status.model.Diagnosis`.
"""
