"""The buildpack's own libraries and the index client that fetches pinned wheels."""
