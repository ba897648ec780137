"""The embedded Kubernetes-compatible API server: storage, HTTP, watch, admission."""
