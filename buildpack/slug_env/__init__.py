"""The environment the slug leaves behind: export, .profile.d, dyno defaults."""
