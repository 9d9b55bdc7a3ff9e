"""Built-in tiers of tierbench: atom, motif and orbital graphs."""
