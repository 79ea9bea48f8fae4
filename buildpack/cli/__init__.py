"""Entry points behind bin/*: argument handling and exit codes."""
