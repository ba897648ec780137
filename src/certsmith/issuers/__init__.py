"""Issuers: one module per issuer type behind one protocol (``issuers.base``)."""
