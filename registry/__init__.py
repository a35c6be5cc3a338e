"""provreg registry."""
