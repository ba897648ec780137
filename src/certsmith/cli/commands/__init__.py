"""cmctl-style commands that act on cert-manager resources through a kubeconfig, like kubectl."""
