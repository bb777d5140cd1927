"""Layout, shared components, static files, the app factory (``ushiro.web.app``)."""
