"""The web application: the landing page and the provider webhooks (``enrich serve``)."""
