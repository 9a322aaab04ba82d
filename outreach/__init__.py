"""Everything about a message: rendering, QR codes, personal links and the channels."""
