"""The one error hierarchy of the outreach layer; messages never carry personal data.

::

    OutreachError                   anything that stops one message from going out
    ├── RenderError                 a template failed for one message (missing variable, syntax)
    └── ChannelError                a channel could not hand a message over (.provider, .transient)
        ├── OutboxError             the local outbox could not write its file (disk, permissions)
        └── ProviderError           a provider answered with an error (.status, .response)
            ├── ProviderRejected    the request itself is wrong (4xx): retrying will not help
            └── ProviderUnavailable the provider is down or throttling (5xx, 429, timeout)

    ConfigurationError              outside the tree on purpose: a wrong template name or setting
                                    must stop the run, not be recorded as a failed message

Use :func:`is_transient` as Prefect's ``retry_condition_fn`` helper: only transient channel
errors are worth a retry, and a ProviderUnavailable not even then: the channel raises it once it
has spent the request's retry budget (:mod:`outreach.providers.retrying`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class OutreachError(Exception):
    """Base of every error one message can fail with."""


class RenderError(OutreachError):
    """A template could not be rendered for one message; names the template, never the data."""

    def __init__(self, message: str, *, template: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.template = template
        self.variable = variable


class ChannelError(OutreachError):
    """A channel could not hand a message over to its provider or outbox."""

    transient: bool = False

    def __init__(self, message: str, *, provider: str, transient: bool | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        if transient is not None:
            self.transient = transient


class OutboxError(ChannelError):
    """The local outbox could not write (full disk, permissions); usually worth a retry."""

    transient = True


class ProviderError(ChannelError):
    """A provider answered with an error status; carries the status and the raw response.

    ``partial_results``: the SendResults a batch had already settled when it gave up (the
    caller records them; the batch's other messages stay pending).
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        response: Any = None,
        transient: bool | None = None,
        partial_results: Sequence[Any] = (),
    ) -> None:
        super().__init__(message, provider=provider, transient=transient)
        self.status = status
        self.response = response
        self.partial_results = list(partial_results)


class ProviderRejected(ProviderError):
    """The provider refused the request itself (4xx other than 429): retrying will not help."""

    transient = False


class ProviderUnavailable(ProviderError):
    """The provider is down or throttling (5xx, 429, no connection) and stayed so through the
    request's retries (:mod:`outreach.providers.retrying`): the unsent messages wait for a later
    run."""

    transient = True


class ConfigurationError(Exception):
    """Wrong setup (a template missing in the default locale, a bad directory, a refused API key,
    a region not enabled): stop the run. ``partial_results`` holds the SendResults of messages
    the failing batch had already settled, so the caller can record them before stopping."""

    def __init__(self, message: str, *, partial_results: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.partial_results = list(partial_results)


def is_transient(error: BaseException) -> bool:
    """True when retrying the same call later may succeed."""
    return isinstance(error, ChannelError) and error.transient
