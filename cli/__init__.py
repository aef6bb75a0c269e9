"""The command line: `fathom serve`, `edit`, `review`, `context`, `demo` and the rest."""
