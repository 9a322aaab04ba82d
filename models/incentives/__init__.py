"""A campaign's incentive: its terms as versioned files, the entries customers make on the
landing page and the awards their completed enrollments earn (no web or flow code here)."""
