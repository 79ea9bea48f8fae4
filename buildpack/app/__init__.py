"""Reading and checking the app: stack, files, the Python version it asks for."""
