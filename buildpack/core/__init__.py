"""What every build step shares: the context, settings, output, report, errors, processes."""
