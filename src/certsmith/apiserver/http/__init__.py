"""The HTTP front of the embedded API server: aiohttp app, routes, handlers, watches.

:func:`certsmith.apiserver.http.app.create_app` builds the application; everything below it
is a pure translation between kube's REST conventions (K8S-API §2-§4) and the object store.
"""
