"""certsmith: the cert-manager API in Python.

Layers, lowest first: ``util`` → ``api`` → ``pki`` → ``issuers``/``admission`` →
``controllers``/``apiserver`` → ``app``/``cli``. A lower layer never imports a higher one;
``lint-imports`` enforces it (see ``docs/architecture.md``).
"""

__version__ = "0.1.0"
