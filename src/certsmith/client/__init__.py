"""The one seam through which controllers talk to a Kubernetes API."""
