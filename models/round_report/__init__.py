"""The steward's report: per round its funnel, drop-off reasons, completeness at the start and
now, cost, time to answer and results by country and language, as counts the tables reproduce.

:func:`collect_report` is the one entry (:mod:`.collect`); each sibling module defines its
figures in its docstring: :mod:`.message_facts` (what is known of each message), :mod:`.answered`
(the answered messages, read once),
:mod:`.funnel`, :mod:`.drop_off`, :mod:`.completeness`, :mod:`.cost`, :mod:`.answer_times`,
:mod:`.breakdown`, :mod:`.forecast_actual`, and :mod:`.scope` (which rounds).
"""

from models.round_report.collect import collect_report
from models.round_report.scope import CampaignNotFound

__all__ = ["CampaignNotFound", "collect_report"]
