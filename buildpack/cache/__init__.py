"""The build cache: what is kept between builds, its lock, and when it is stale."""
