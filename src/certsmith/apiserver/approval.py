"""Who may approve or deny a CertificateRequest: cert-manager's approval admission (SPEC §2.3).

cert-manager's webhook runs ``certificaterequest_approval.go`` on every UPDATE of
``certificaterequests/status`` that newly adds an Approved or Denied condition. It asks the
apiserver, with SubjectAccessReviews, whether the updater may ``approve`` the ``signers``
(``cert-manager.io``) named after the referenced issuer. Here the server is its own webhook,
so the same question goes straight to :func:`certsmith.apiserver.auth.authorize` (RBAC with
``system:masters`` first), and "API discovery" is the server's resource registry.

Not copied: cert-manager's discovery caches (30s negative, forever positive). The registry is
in memory and always current, so a CRD registered a moment ago is found at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from certsmith.admission.certificaterequest import (
    SIGNER_API_GROUP,
    SIGNER_RESOURCE,
    SIGNER_VERB,
    approval_forbidden_error,
    approval_newly_set,
    signer_names_for,
    signer_not_found_error,
)
from certsmith.api.certmanager import CertificateRequest
from certsmith.api.errors import FieldError
from certsmith.api.meta import UserInfo
from certsmith.apiserver.auth import RequestAttributes, authorize
from certsmith.apiserver.rbac import RuleSource
from certsmith.apiserver.resources import ResourceRegistry

DEFAULT_ISSUER_KIND = "Issuer"
DEFAULT_ISSUER_GROUP = "cert-manager.io"


@dataclass(frozen=True)
class ApprovalAuthorizer:
    """Checks the updater's ``approve`` permission for a request's issuer.

    Attributes:
        registry: the served resources, to map the issuer's (group, kind) to its resource.
        rbac: the policy; ``None`` allows only ``system:masters`` (as :func:`authorize` does).
    """

    registry: ResourceRegistry
    rbac: RuleSource | None = None

    def may_approve(self, user: UserInfo, signer_name: str) -> bool:
        """Whether ``user`` may ``approve`` the signer ``signer_name`` (cluster scope)."""
        attrs = RequestAttributes(
            verb=SIGNER_VERB,
            path="",
            group=SIGNER_API_GROUP,
            resource=SIGNER_RESOURCE,
            name=signer_name,
        )
        return authorize(user, attrs, self.rbac)

    def check(
        self, old: CertificateRequest, new: CertificateRequest, user: UserInfo
    ) -> list[FieldError]:
        """The errors for a status update by ``user``; empty when it may be stored.

        Only an update that adds an Approved or Denied condition is checked; the first signer
        name the user may approve admits it.
        """
        if not approval_newly_set(old, new):
            return []
        ref = new.spec.issuer_ref
        group = ref.group or DEFAULT_ISSUER_GROUP
        kind = ref.kind or DEFAULT_ISSUER_KIND
        rt = self.registry.by_kind(group, kind)
        if rt is None:
            return [signer_not_found_error(ref)]
        namespace = new.metadata.namespace or ""
        names = signer_names_for(ref, namespace, rt.plural, rt.namespaced)
        if any(self.may_approve(user, name) for name in names):
            return []
        return [approval_forbidden_error(user.username, ref)]
