"""The catalogue of where data comes from: licences, contributors, sources, and revocation."""
