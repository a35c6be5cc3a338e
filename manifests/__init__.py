"""provreg manifests."""
