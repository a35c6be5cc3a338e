"""provreg bench."""
