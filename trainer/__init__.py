"""provreg trainer."""
