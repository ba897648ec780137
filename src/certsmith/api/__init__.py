"""Resource models of the cert-manager API, conditions and reasons, and the error hierarchy.

Imports only ``certsmith.util`` and pydantic: everything else builds on this layer.
"""
