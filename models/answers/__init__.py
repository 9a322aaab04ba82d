"""What customers answer: the personal link and its tokens, submissions, proof of control,
unsubscribe."""
