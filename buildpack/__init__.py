"""A classic (bin/detect, bin/compile) buildpack for Python apps."""
