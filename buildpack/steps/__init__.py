"""Build steps of the app's own: hooks, Django collectstatic, NLTK corpora."""
