"""Certificate shims: Certificates from Ingresses, Gateway API Gateways and Istio Gateways.

cert-manager's ``ingress-shim`` and ``gateway-shim`` (SPEC §7), plus ``istio-gateway-shim``:
:mod:`.sources` reads what each object asks for, :mod:`.annotations` the issuer and spec
annotations, :mod:`.sync` reconciles, :mod:`.wiring` composes the controllers.
"""
