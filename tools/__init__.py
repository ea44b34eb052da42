"""Command-line scripts of a zeetad checkout (not installed with the library)."""
