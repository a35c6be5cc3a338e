"""Opt-out signals: observed, stored as evidence, judged per URL for AI training.

The map (``docs/signals.md`` has the rules):

- ``vocab``: the draft-ietf-aipref-vocab vocabularies (``CURRENT``) and statement parsing.
- ``robots``: robots.txt groups and Allow/Disallow (protego), ``Content-Usage`` and
  ``Content-Signal`` rules.
- ``headers``: the ``Content-Usage`` and TDMRep header fields of a response.
- ``tdmrep``: W3C TDMRep's tdmrep.json, headers, HTML meta and their priority.
- ``licence``: the source licence's ``no_ai_training`` flag as a signal.
- ``origins``: origin and URL normal forms.
- ``evaluate``: the combination rule, observations in force at a time, the bulk ``Judge``.
- ``observations``: the service (record, list, show, check, judge, reparse).
- ``fetch``: getting the signals of an origin over HTTP (httpx).
- ``admission``: the ingest gate's judge (exclusions by origin and signal, the links kept).
- ``rejudge``: shards against observations made since ingest, through ``shard_domains``.
- ``summary``: the signal figures of a manifest chain, for the disclosures.
"""
