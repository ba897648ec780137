"""The Certificate controllers and the pure decisions they share.

``policies`` (the ordered check chains that decide re-issuance, readiness and Secret repair),
``match`` (is a request or an issued certificate still what the spec asks for), ``ownership``
(which Certificate owns a shared Secret) and ``secretdata`` (what cert-manager writes into the
target Secret) are pure: no client, no clock. The controllers in this package feed them.
"""
