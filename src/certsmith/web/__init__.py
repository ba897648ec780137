"""The web view at ``/ui``: server-rendered pages over the Certificates a KubeClient can read.

It sits beside ``apiserver`` and ``controllers`` (it imports neither): the pages read objects
through :mod:`certsmith.client` and :mod:`certsmith.app` mounts the routes behind the API's
authentication. Templates are Jinja2 with autoescaping on; there is no JavaScript and no
external asset, so the view works offline and the charts are inline SVG.
"""
