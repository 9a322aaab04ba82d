"""A simulated clock over weeks of outreach: scripted customers, exact expected histories."""
