"""The data subject's rights on request: access (Art. 15), erasure (Art. 17), restriction
(Art. 18) and objection (Art. 21), each a plain function over one profile, audited with who
asked and why; the command line and the API call the same functions."""
