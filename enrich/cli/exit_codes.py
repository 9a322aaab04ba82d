"""The exit codes of the ``enrich`` command, documented in the README."""

from __future__ import annotations

from typing import Final

OK: Final = 0
# The command's work failed (a round stopped by a provider or configuration error, rejected
# rows in an import, unknown letter codes, ...).
FAILED: Final = 1
# The command could not start: bad arguments, an invalid setting or campaign file, an unknown id.
INVALID: Final = 2
# The run finished, but messages are left unsettled: in doubt (handed to a provider without a
# recorded answer) or unsent; `enrich round status` names them, `enrich outreach resolve` decides.
UNSETTLED: Final = 3
