"""Why a webhook request is refused, for both providers.

Errors::

    WebhookRejected                 the request must be refused with a terse 4xx
    ├── SignatureError              missing, forged or stale signature
    └── WebhookPayloadError         signed but not the shape we accept
        └── MalformedEvent          one event with a field we refuse (see event_fields);
                                    inside a SendGrid batch it is recorded as rejected, not raised

    WebhookConfigurationError       outside the tree on purpose: a bad key or empty token is our
                                    fault and must surface, not be answered as a forged request
"""

from __future__ import annotations


class WebhookRejected(Exception):
    """A webhook request that must be refused; the message is terse and safe to answer with."""


class SignatureError(WebhookRejected):
    """The signature is missing, does not match, or its timestamp is out of bounds."""


class WebhookPayloadError(WebhookRejected):
    """The (authentic) body is not the shape a provider documents, e.g. not a JSON array."""


class WebhookConfigurationError(ValueError):
    """The verification key or token we were configured with is unusable."""
