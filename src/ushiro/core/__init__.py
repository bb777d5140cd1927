"""Infrastructure shared by every domain: settings, database, errors, i18n, security, text.

Nothing in ``core`` imports a domain package.
"""
