"""The diff protocol: prompt, tolerant parsing (unidiff), location and edit plans."""
