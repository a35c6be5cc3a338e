"""The compensation ledger: settlement, pools, corrections, statements, exact allocation, money."""
