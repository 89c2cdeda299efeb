"""Health banners (facts -> what silently stops backups) and their one-click fixes."""
