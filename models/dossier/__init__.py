"""The dossier of one profile: every value with its source, changes, proofs and challenges, every
message with its reason and what came back, every consent, right used and erasure."""

from models.data_subject.request import UnknownProfile
from models.dossier.collect import collect_dossier
from models.dossier.facts import Dossier
from models.dossier.requested import read_dossier

__all__ = ["Dossier", "UnknownProfile", "collect_dossier", "read_dossier"]
