"""What comes back: delivery events and contact-point state, suppressions, rejected events, returned
letters."""
