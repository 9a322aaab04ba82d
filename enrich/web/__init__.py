"""The web application: the landing page, the provider webhooks and the API for other systems."""
