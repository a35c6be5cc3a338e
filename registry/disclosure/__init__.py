"""Public disclosures: the subject, the facts, publishing, and the public formats."""
