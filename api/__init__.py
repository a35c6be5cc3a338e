"""provreg api."""
