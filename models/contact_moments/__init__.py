"""Contact moments: the ask another system carries to a customer, recorded and expired."""
