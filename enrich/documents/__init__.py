"""Documents for the data-protection officer and the person the data is about: the dossier (text,
JSON, one self-contained HTML page), rendered from the facts :mod:`models` collects."""
