"""Tools for maintainers and self-hosting users; not part of the shipped buildpack."""
