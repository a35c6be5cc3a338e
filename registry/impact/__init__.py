"""Impact and takedown: what a selection of records (a source, shard, domain, URL, author or
record) reached, and taking those records out of future training.

``selectors`` parses a selector and finds the matching shards from the per-shard tables (never a
shard file); ``reach`` follows them to manifests and their descendants, runs, weights,
disclosures and ledger entries; ``report`` puts the two together (``impact``).
"""
