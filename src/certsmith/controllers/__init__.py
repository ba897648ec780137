"""The reconcile runtime and the controllers built on it."""
