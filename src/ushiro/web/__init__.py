"""Layout, shared components, static files, the app factory (``ushiro.app``)."""
