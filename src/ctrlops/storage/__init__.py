"""Storage checks that run on the server: Test Connection to a destination."""
