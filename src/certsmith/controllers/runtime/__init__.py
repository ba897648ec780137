"""The reconcile runtime: work queues, informers with their caches, the manager, leader election.

Controllers import from here and from :mod:`certsmith.client` only; nothing in the runtime knows
whether the API server is embedded or real.
"""
