"""Command-line scripts of a zeetad checkout (not installed with the library): a package only so that
``tools.analysis_tools`` (the benchmark and profiling helpers) imports from the checkout."""
