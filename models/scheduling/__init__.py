"""When a due step may go out: send windows, frequency caps, and the two combined."""
