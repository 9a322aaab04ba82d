"""Contact data itself: normalising and validating values, and masking them for display."""
